#ifndef TANDEM_TOKENIZER_JINJA_OPERATORS_H_
#define TANDEM_TOKENIZER_JINJA_OPERATORS_H_

// Python's arithmetic on template values: + - * / // % ** and unary - +,
// and jinja2's ~ (str() of both sides, concatenated). Integers are 64-bit:
// a result Python would hold in a big int is an error, never a wrapped
// value. Undefined operands are jinja2's UndefinedError (except for ~,
// where undefined prints as "").

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

// `op` is one of + - * / // % ** ~. InvalidArgument for Python's TypeError,
// ZeroDivisionError and overflow; ResourceExhausted when a string or list
// result would exceed `max_bytes` bytes (items).
absl::StatusOr<Value> BinaryOp(absl::string_view op, const Value& a, const Value& b,
                               size_t max_bytes);

// `op` is "-" or "+".
absl::StatusOr<Value> UnaryOp(absl::string_view op, const Value& v);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_OPERATORS_H_
