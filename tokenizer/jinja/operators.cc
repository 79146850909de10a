#include "tokenizer/jinja/operators.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tokenizer/jinja/py_repr.h"

namespace tandem::tokenizer::jinja {
namespace {

bool IsInt(const Value& v) { return v.kind() == ValueKind::kInt || v.kind() == ValueKind::kBool; }

bool IsSequence(const Value& v) {
  return v.is_list() && (v.flavor() == ListFlavor::kList || v.flavor() == ListFlavor::kTuple);
}

absl::Status Unsupported(absl::string_view op, const Value& a, const Value& b) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported operand type(s) for ", op, ": '",
                                                 a.TypeName(), "' and '", b.TypeName(), "'"));
}

absl::Status Overflow() {
  return absl::InvalidArgumentError("integer result out of 64-bit range (unsupported)");
}

absl::StatusOr<Value> Repeat(const Value& seq, int64_t times, size_t max_bytes) {
  if (times < 0) times = 0;
  const size_t unit = seq.is_string() ? seq.str().size() : seq.list().items.size();
  if (unit > 0 && static_cast<uint64_t>(times) > max_bytes / unit) {
    return absl::ResourceExhaustedError("repetition result too large");
  }
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.str();
    return Value::String(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) {
    out.insert(out.end(), seq.list().items.begin(), seq.list().items.end());
  }
  return Value::List(std::move(out), seq.flavor());
}

double FloorMod(double x, double y) {
  double m = std::fmod(x, y);
  if (m != 0 && ((m < 0) != (y < 0))) m += y;
  return m;
}

absl::StatusOr<Value> IntOp(absl::string_view op, int64_t x, int64_t y) {
  int64_t r = 0;
  if (op == "+") {
    if (__builtin_add_overflow(x, y, &r)) return Overflow();
  } else if (op == "-") {
    if (__builtin_sub_overflow(x, y, &r)) return Overflow();
  } else if (op == "*") {
    if (__builtin_mul_overflow(x, y, &r)) return Overflow();
  } else if (op == "/") {
    if (y == 0) return absl::InvalidArgumentError("division by zero");
    return Value::Float(static_cast<double>(x) / static_cast<double>(y));
  } else if (op == "//" || op == "%") {
    if (y == 0) return absl::InvalidArgumentError("integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) return Overflow();
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {
      --q;
      m += y;
    }
    r = op == "//" ? q : m;
  } else {  // **
    if (y < 0) return Value::Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
    r = 1;
    for (int64_t i = 0; i < y; ++i) {
      if (__builtin_mul_overflow(r, x, &r)) return Overflow();
      if (r == 0 || r == 1) break;
      if (r == -1) {
        r = (y % 2 == 0) ? 1 : -1;
        break;
      }
    }
  }
  return Value::Int(r);
}

absl::StatusOr<Value> FloatOp(absl::string_view op, double x, double y) {
  if (op == "+") return Value::Float(x + y);
  if (op == "-") return Value::Float(x - y);
  if (op == "*") return Value::Float(x * y);
  if (op == "**") {
    if (x == 0 && y < 0) return absl::InvalidArgumentError("0.0 cannot be raised to a negative power");
    return Value::Float(std::pow(x, y));
  }
  if (y == 0) return absl::InvalidArgumentError("float division by zero");
  if (op == "/") return Value::Float(x / y);
  if (op == "%") return Value::Float(FloorMod(x, y));
  return Value::Float(std::floor((x - FloorMod(x, y)) / y));  // //
}

}  // namespace

absl::StatusOr<Value> BinaryOp(absl::string_view op, const Value& a, const Value& b,
                               size_t max_bytes) {
  if (op == "~") {
    auto x = PyStr(a);
    if (!x.ok()) return x.status();
    auto y = PyStr(b);
    if (!y.ok()) return y.status();
    if (x->size() + y->size() > max_bytes) return absl::ResourceExhaustedError("string too large");
    return Value::String(*x + *y);
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (IsInt(a) && IsInt(b)) return IntOp(op, a.int_value(), b.int_value());
  if (a.is_number() && b.is_number()) return FloatOp(op, a.AsDouble(), b.AsDouble());
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.str().size() + b.str().size() > max_bytes) return absl::ResourceExhaustedError("string too large");
    return Value::String(a.str() + b.str());
  }
  if (op == "+" && IsSequence(a) && IsSequence(b) && a.flavor() == b.flavor()) {
    std::vector<Value> items = a.list().items;
    items.insert(items.end(), b.list().items.begin(), b.list().items.end());
    return Value::List(std::move(items), a.flavor());
  }
  if (op == "*" && (a.is_string() || IsSequence(a)) && IsInt(b)) return Repeat(a, b.int_value(), max_bytes);
  if (op == "*" && IsInt(a) && (b.is_string() || IsSequence(b))) return Repeat(b, a.int_value(), max_bytes);
  if (op == "%" && a.is_string()) {
    return absl::InvalidArgumentError("unsupported: printf-style string formatting with '%'");
  }
  return Unsupported(op, a, b);
}

absl::StatusOr<Value> UnaryOp(absl::string_view op, const Value& v) {
  if (v.is_undefined()) return UndefinedError(v);
  if (IsInt(v)) {
    if (op == "+") return Value::Int(v.int_value());
    if (v.int_value() == INT64_MIN) return Overflow();
    return Value::Int(-v.int_value());
  }
  if (v.kind() == ValueKind::kFloat) return Value::Float(op == "+" ? v.AsDouble() : -v.AsDouble());
  return absl::InvalidArgumentError(
      absl::StrCat("bad operand type for unary ", op, ": '", v.TypeName(), "'"));
}

}  // namespace tandem::tokenizer::jinja
