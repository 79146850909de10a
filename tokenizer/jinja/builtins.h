#ifndef TANDEM_TOKENIZER_JINJA_BUILTINS_H_
#define TANDEM_TOKENIZER_JINJA_BUILTINS_H_

// The names this implementation knows, which the parser checks so that an
// unsupported filter, test, method or function fails when the template is
// loaded rather than when (or whether) a branch runs. Each name listed is
// implemented in filters.cc, predicates.cc, methods.cc or the interpreter.

#include "absl/strings/string_view.h"

namespace tandem::tokenizer::jinja {

// Filters: abs capitalize count d default first float int items join last
// length list lower map reject rejectattr replace reverse safe select
// selectattr sort string title tojson trim unique upper.
bool IsFilter(absl::string_view name);

// Tests: boolean defined divisibleby eq equalto even false float ge greaterthan
// gt in integer iterable le lessthan lower lt mapping ne none number odd
// sameas sequence string true undefined upper ==, !=, <, <=, >, >=.
bool IsTest(absl::string_view name);

// Methods: str.strip/lstrip/rstrip/split/startswith/endswith/replace/
// upper/lower/title/capitalize/join/find/count, dict.get/items/keys/values.
bool IsMethod(absl::string_view name);

// Global functions: range, namespace, dict, raise_exception, strftime_now.
bool IsGlobalFunction(absl::string_view name);

// For filters taking a test or filter by name (select/reject: argument 0,
// selectattr/rejectattr: argument 1, map: argument 0 unless called with
// keywords only), the index of that positional argument; -1 otherwise.
int FilterNamedArgumentIndex(absl::string_view filter, size_t positional_count,
                             bool has_keywords);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_BUILTINS_H_
