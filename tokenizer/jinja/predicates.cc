#include "tokenizer/jinja/predicates.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tokenizer/jinja/py_string.h"

namespace tandem::tokenizer::jinja {
namespace {

absl::StatusOr<bool> Compare(absl::string_view op, const Value& a, const Value& b) {
  if (op == "==") return Equals(a, b);
  if (op == "!=") return !Equals(a, b);
  return Less(a, b, op);
}

absl::StatusOr<bool> Cased(const Value& value, bool upper) {
  if (!value.is_string()) return absl::InvalidArgumentError("lower/upper tests need a string");
  // Python's islower/isupper: some cased character and none of the other case.
  const std::string lower = PyLower(value.str()), up = PyUpper(value.str());
  return upper ? (value.str() == up && value.str() != lower)
               : (value.str() == lower && value.str() != up);
}

}  // namespace

absl::StatusOr<bool> ApplyTest(absl::string_view name, const Value& value,
                               const std::vector<Value>& args) {
  static const std::pair<const char*, const char*> kComparisons[] = {
      {"eq", "=="}, {"equalto", "=="}, {"==", "=="}, {"ne", "!="}, {"!=", "!="},
      {"lt", "<"}, {"lessthan", "<"}, {"<", "<"}, {"le", "<="}, {"<=", "<="},
      {"gt", ">"}, {"greaterthan", ">"}, {">", ">"}, {"ge", ">="}, {">=", ">="}};
  for (const auto& [test, op] : kComparisons) {
    if (name != test) continue;
    if (args.size() != 1) return absl::InvalidArgumentError(absl::StrCat("test '", name, "' takes one argument"));
    return Compare(op, value, args[0]);
  }
  if (name == "in" || name == "sameas" || name == "divisibleby") {
    if (args.size() != 1) return absl::InvalidArgumentError(absl::StrCat("test '", name, "' takes one argument"));
    if (name == "in") return ContainsValue(args[0], value);
    if (name == "sameas") {
      // Python `is`: identity; for the immutable singletons, equal kinds.
      if (value.kind() != args[0].kind()) return false;
      if (value.is_none()) return true;
      if (value.kind() == ValueKind::kBool) return value.bool_value() == args[0].bool_value();
      if (value.is_list()) return &value.list() == &args[0].list();
      if (value.is_dict() || value.is_namespace()) return &value.dict() == &args[0].dict();
      return absl::InvalidArgumentError("'sameas' is only supported for None, booleans and containers");
    }
    if (value.kind() != ValueKind::kInt || args[0].kind() != ValueKind::kInt || args[0].int_value() == 0) {
      return absl::InvalidArgumentError("'divisibleby' is supported for non-zero integers only");
    }
    return value.int_value() % args[0].int_value() == 0;
  }
  if (!args.empty()) return absl::InvalidArgumentError(absl::StrCat("test '", name, "' takes no arguments"));
  const ValueKind k = value.kind();
  if (name == "defined") return k != ValueKind::kUndefined;
  if (name == "undefined") return k == ValueKind::kUndefined;
  if (name == "none") return k == ValueKind::kNone;
  if (name == "true") return k == ValueKind::kBool && value.bool_value();
  if (name == "false") return k == ValueKind::kBool && !value.bool_value();
  if (name == "boolean") return k == ValueKind::kBool;
  if (name == "integer") return k == ValueKind::kInt;
  if (name == "float") return k == ValueKind::kFloat;
  if (name == "number") return value.is_number();
  if (name == "string") return k == ValueKind::kString;
  if (name == "mapping") return k == ValueKind::kDict;
  if (name == "iterable") {
    return k == ValueKind::kUndefined || k == ValueKind::kString || k == ValueKind::kList ||
           k == ValueKind::kDict;
  }
  if (name == "sequence") {
    return k == ValueKind::kString || k == ValueKind::kDict ||
           (k == ValueKind::kList && (value.flavor() == ListFlavor::kList ||
                                      value.flavor() == ListFlavor::kTuple));
  }
  if (name == "even" || name == "odd") {
    if (k != ValueKind::kInt && k != ValueKind::kBool) {
      return absl::InvalidArgumentError(absl::StrCat("'", name, "' is supported for integers only"));
    }
    return (value.int_value() % 2 == 0) == (name == "even");
  }
  if (name == "lower" || name == "upper") return Cased(value, name == "upper");
  return absl::InvalidArgumentError(absl::StrCat("unsupported test '", name, "'"));
}

absl::StatusOr<bool> ContainsValue(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::kUndefined: return false;
    case ValueKind::kString:
      if (!item.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'in <string>' requires string as left operand, not ", item.TypeName()));
      }
      return container.str().find(item.str()) != std::string::npos;
    case ValueKind::kDict: return container.dict().Find(item) != nullptr;
    case ValueKind::kList: {
      auto items = Iterate(container);
      if (!items.ok()) return items.status();
      for (const Value& v : *items) {
        if (Equals(v, item)) return true;
      }
      return false;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "argument of type '", container.TypeName(), "' is not iterable"));
  }
}

}  // namespace tandem::tokenizer::jinja
