#include "tokenizer/jinja/builtins.h"

#include <set>
#include <string>

namespace tandem::tokenizer::jinja {
namespace {

bool In(const std::set<std::string, std::less<>>& names, absl::string_view name) {
  return names.find(name) != names.end();
}

}  // namespace

bool IsFilter(absl::string_view name) {
  static const auto* kNames = new std::set<std::string, std::less<>>{
      "abs", "capitalize", "count", "d", "default", "first", "float", "int", "items",
      "join", "last", "length", "list", "lower", "map", "reject", "rejectattr",
      "replace", "reverse", "safe", "select", "selectattr", "sort", "string", "title",
      "tojson", "trim", "unique", "upper"};
  return In(*kNames, name);
}

bool IsTest(absl::string_view name) {
  static const auto* kNames = new std::set<std::string, std::less<>>{
      "boolean", "defined", "divisibleby", "eq", "equalto", "even", "false", "float",
      "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower",
      "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string",
      "true", "undefined", "upper", "==", "!=", "<", "<=", ">", ">="};
  return In(*kNames, name);
}

bool IsMethod(absl::string_view name) {
  static const auto* kNames = new std::set<std::string, std::less<>>{
      "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "replace",
      "upper", "lower", "title", "capitalize", "join", "find", "count",
      "get", "items", "keys", "values"};
  return In(*kNames, name);
}

bool IsGlobalFunction(absl::string_view name) {
  return name == "range" || name == "namespace" || name == "dict" ||
         name == "raise_exception" || name == "strftime_now";
}

int FilterNamedArgumentIndex(absl::string_view filter, size_t positional_count,
                             bool has_keywords) {
  if ((filter == "select" || filter == "reject") && positional_count >= 1) return 0;
  if ((filter == "selectattr" || filter == "rejectattr") && positional_count >= 2) return 1;
  if (filter == "map" && positional_count >= 1 && !(has_keywords && positional_count == 0)) {
    return 0;
  }
  return -1;
}

}  // namespace tandem::tokenizer::jinja
