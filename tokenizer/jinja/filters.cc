#include "tokenizer/jinja/filters.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/json_dumps.h"
#include "tokenizer/jinja/predicates.h"
#include "tokenizer/jinja/py_repr.h"
#include "tokenizer/jinja/py_string.h"

namespace tandem::tokenizer::jinja {
namespace {

using Items = std::vector<Value>;

absl::Status Error(absl::string_view filter, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("filter '", filter, "': ", what));
}

Value Generator(Items items) { return Value::List(std::move(items), ListFlavor::kGenerator); }

// Python's float(str) / int(str, 10); nullopt where Python raises ValueError.
std::optional<double> ParseFloat(const std::string& text) {
  const std::string s = PyStrip(text, std::nullopt, StripSide::kBoth);
  if (s.empty() || s.find('_') != std::string::npos) return std::nullopt;
  const std::string lower = absl::AsciiStrToLower(s);
  if (lower.find("0x") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

std::optional<int64_t> ParseInt(const std::string& text) {
  const std::string s = PyStrip(text, std::nullopt, StripSide::kBoth);
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j) {
    if (!absl::ascii_isdigit(s[j])) return std::nullopt;
  }
  errno = 0;
  const long long v = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return v;
}

absl::StatusOr<Value> ToInt(const Value& value, const Value& fallback) {
  if (value.is_undefined()) return UndefinedError(value);
  if (value.kind() == ValueKind::kInt || value.kind() == ValueKind::kBool) {
    return Value::Int(value.int_value());
  }
  if (value.kind() == ValueKind::kFloat) {
    const double d = value.AsDouble();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value::Int(static_cast<int64_t>(d));
  }
  if (value.is_string()) {
    if (auto i = ParseInt(value.str())) return Value::Int(*i);
    if (auto d = ParseFloat(value.str()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
      return Value::Int(static_cast<int64_t>(*d));
    }
  }
  return fallback;
}

absl::StatusOr<Value> ToFloat(const Value& value, const Value& fallback) {
  if (value.is_undefined()) return UndefinedError(value);
  if (value.is_number()) return Value::Float(value.AsDouble());
  if (value.is_string()) {
    if (auto d = ParseFloat(value.str())) return Value::Float(*d);
  }
  return fallback;
}

// jinja2's ignore_case postprocess for sort/unique keys.
Value CaseKey(const Value& v, bool case_sensitive) {
  if (case_sensitive || !v.is_string()) return v;
  return Value::String(PyLower(v.str()));
}

absl::StatusOr<Value> AttributeOf(const Value& item, const Value& attribute) {
  if (attribute.is_none()) return item;
  if (attribute.is_string()) return GetAttributePath(item, attribute.str());
  return GetItem(item, attribute);
}

absl::StatusOr<Value> Sort(const Value& value, const std::vector<Value>& a) {
  auto items = Iterate(value);
  if (!items.ok()) return items.status();
  const bool reverse = Truthy(a[0]), case_sensitive = Truthy(a[1]);
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : *items) {
    auto key = AttributeOf(item, a[2]);
    if (!key.ok()) return key.status();
    keyed.emplace_back(CaseKey(*key, case_sensitive), std::move(item));
  }
  absl::Status failure;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto less = reverse ? Less(y.first, x.first, "<") : Less(x.first, y.first, "<");
    if (!less.ok()) {
      failure = less.status();
      return false;
    }
    return *less;
  });
  if (!failure.ok()) return failure;
  Items out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> Unique(const Value& value, const std::vector<Value>& a) {
  auto items = Iterate(value);
  if (!items.ok()) return items.status();
  Items seen, out;
  for (Value& item : *items) {
    auto key = AttributeOf(item, a[1]);
    if (!key.ok()) return key.status();
    const Value k = CaseKey(*key, Truthy(a[0]));
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return Equals(s, k); })) continue;
    seen.push_back(k);
    out.push_back(std::move(item));
  }
  return Generator(std::move(out));
}

// select / reject / selectattr / rejectattr.
absl::StatusOr<Value> Select(absl::string_view name, const Value& value, const CallArgs& args) {
  const bool by_attribute = name == "selectattr" || name == "rejectattr";
  const bool keep = name == "select" || name == "selectattr";
  if (!args.keyword.empty()) return Error(name, "takes no keyword arguments");
  std::vector<Value> rest = args.positional;
  std::optional<std::string> attribute;
  if (by_attribute) {
    if (rest.empty() || !rest[0].is_string()) return Error(name, "needs an attribute name");
    attribute = rest[0].str();
    rest.erase(rest.begin());
  }
  std::optional<std::string> test;
  if (!rest.empty()) {
    test = rest[0].str();
    rest.erase(rest.begin());
  }
  auto items = Iterate(value);
  if (!items.ok()) return items.status();
  Items out;
  for (Value& item : *items) {
    Value subject = item;
    if (attribute) {
      auto attr = GetAttributePath(item, *attribute);
      if (!attr.ok()) return attr.status();
      subject = std::move(*attr);
    }
    bool pass = Truthy(subject);
    if (test) {
      auto result = ApplyTest(*test, subject, rest);
      if (!result.ok()) return result.status();
      pass = *result;
    }
    if (pass == keep) out.push_back(std::move(item));
  }
  return Generator(std::move(out));
}

absl::StatusOr<Value> Map(const Value& value, const CallArgs& args) {
  auto items = Iterate(value);
  if (!items.ok()) return items.status();
  Items out;
  if (args.positional.empty()) {
    auto a = BindArgs(args, {{"attribute", std::nullopt}, {"default", Value::None()}}, "map");
    if (!a.ok()) return a.status();
    for (const Value& item : *items) {
      auto attr = AttributeOf(item, (*a)[0]);
      if (!attr.ok()) return attr.status();
      out.push_back(attr->is_undefined() && !(*a)[1].is_none() ? (*a)[1] : *attr);
    }
    return Generator(std::move(out));
  }
  CallArgs rest = args;
  const std::string filter = rest.positional[0].str();
  rest.positional.erase(rest.positional.begin());
  for (const Value& item : *items) {
    auto mapped = ApplyFilter(filter, item, rest);
    if (!mapped.ok()) return mapped.status();
    out.push_back(std::move(*mapped));
  }
  return Generator(std::move(out));
}

absl::StatusOr<Value> Join(const Value& value, const std::vector<Value>& a) {
  auto items = Iterate(value);
  if (!items.ok()) return items.status();
  auto sep = PyStr(a[0]);
  if (!sep.ok()) return sep.status();
  std::vector<std::string> parts;
  for (const Value& item : *items) {
    auto attr = AttributeOf(item, a[1]);
    if (!attr.ok()) return attr.status();
    auto s = PyStr(*attr);
    if (!s.ok()) return s.status();
    parts.push_back(std::move(*s));
  }
  return Value::String(absl::StrJoin(parts, *sep));
}

absl::StatusOr<Value> ToJson(const Value& value, const std::vector<Value>& a) {
  JsonDumpsOptions options;
  options.ensure_ascii = Truthy(a[0]);
  if (a[1].kind() == ValueKind::kInt) {
    options.indent = std::string(std::max<int64_t>(0, std::min<int64_t>(a[1].int_value(), 1024)), ' ');
  } else if (a[1].is_string()) {
    options.indent = a[1].str();
  } else if (!a[1].is_none()) {
    return Error("tojson", "indent must be None, an integer or a string");
  }
  if (!a[2].is_none()) {
    if (!a[2].is_list() || a[2].list().items.size() != 2 || !a[2].list().items[0].is_string() ||
        !a[2].list().items[1].is_string()) {
      return Error("tojson", "separators must be a pair of strings");
    }
    options.item_separator = a[2].list().items[0].str();
    options.key_separator = a[2].list().items[1].str();
  }
  options.sort_keys = Truthy(a[3]);
  auto json = JsonDumps(value, options);
  if (!json.ok()) return json.status();
  return Value::String(std::move(*json));
}

absl::StatusOr<Value> FirstOrLast(absl::string_view name, const Value& value) {
  if (name == "last" && value.is_list() && value.flavor() == ListFlavor::kGenerator) {
    return Error(name, "'generator' object is not reversible");
  }
  if (value.is_list() && value.flavor() == ListFlavor::kGenerator) {
    ListData& data = value.list();  // next(): takes one item
    if (data.consumed < data.items.size()) return data.items[data.consumed++];
  } else {
    auto items = Iterate(value);
    if (!items.ok()) return items.status();
    if (!items->empty()) return name == "first" ? items->front() : items->back();
  }
  return Value::Undefined(name == "first" ? "No first item, sequence was empty."
                                          : "No last item, sequence was empty.");
}

absl::StatusOr<Value> Reverse(const Value& value) {
  if (value.is_string()) return Value::String(PySliceString(value.str(), std::nullopt, std::nullopt, -1));
  auto items = Iterate(value);
  if (!items.ok()) return items.status();
  std::reverse(items->begin(), items->end());
  return Generator(std::move(*items));
}

absl::StatusOr<Value> ItemsFilter(const Value& value) {
  if (value.is_undefined()) return Generator({});
  if (!value.is_dict()) return Error("items", "Can only get item pairs from a mapping.");
  Items out;
  for (const auto& [k, v] : value.dict().entries) out.push_back(Value::List({k, v}, ListFlavor::kTuple));
  return Generator(std::move(out));
}

// Filters whose input is printed with str() first.
absl::StatusOr<Value> StringFilter(absl::string_view name, const Value& value, const CallArgs& args) {
  auto text = PyStr(value);
  if (!text.ok()) return text.status();
  const std::string& s = *text;
  if (name == "trim") {
    auto a = BindArgs(args, {{"chars", Value::None()}}, name);
    if (!a.ok()) return a.status();
    if (!(*a)[0].is_none() && !(*a)[0].is_string()) return Error(name, "chars must be a string");
    return Value::String(PyStrip(s, (*a)[0].is_none() ? std::nullopt : std::optional<std::string>((*a)[0].str()),
                                 StripSide::kBoth));
  }
  if (name == "replace") {
    auto a = BindArgs(args, {{"old", std::nullopt}, {"new", std::nullopt}, {"count", Value::None()}}, name);
    if (!a.ok()) return a.status();
    auto old_text = PyStr((*a)[0]);
    auto new_text = PyStr((*a)[1]);
    if (!old_text.ok() || !new_text.ok()) return Error(name, "arguments cannot be printed");
    if (!(*a)[2].is_none() && (*a)[2].kind() != ValueKind::kInt) return Error(name, "count must be an integer");
    const int64_t count = (*a)[2].is_none() ? -1 : (*a)[2].int_value();
    return Value::String(PyReplace(s, *old_text, *new_text, count));
  }
  auto a = BindArgs(args, {}, name);
  if (!a.ok()) return a.status();
  if (name == "upper") return Value::String(PyUpper(s));
  if (name == "lower") return Value::String(PyLower(s));
  if (name == "capitalize") return Value::String(PyCapitalize(s));
  if (name == "title") return Value::String(JinjaTitle(s));
  return Value::String(s);  // string
}

}  // namespace

absl::StatusOr<Value> ApplyFilter(absl::string_view name, const Value& value,
                                  const CallArgs& args) {
  if (name == "trim" || name == "replace" || name == "upper" || name == "lower" ||
      name == "capitalize" || name == "title" || name == "string") {
    return StringFilter(name, value, args);
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return Select(name, value, args);
  }
  if (name == "map") return Map(value, args);
  if (name == "default" || name == "d") {
    auto a = BindArgs(args, {{"default_value", Value::String("")}, {"boolean", Value::Bool(false)}}, name);
    if (!a.ok()) return a.status();
    return value.is_undefined() || (Truthy((*a)[1]) && !Truthy(value)) ? (*a)[0] : value;
  }
  if (name == "tojson") {
    auto a = BindArgs(args, {{"ensure_ascii", Value::Bool(false)}, {"indent", Value::None()},
                             {"separators", Value::None()}, {"sort_keys", Value::Bool(false)}}, name);
    if (!a.ok()) return a.status();
    return ToJson(value, *a);
  }
  if (name == "join") {
    auto a = BindArgs(args, {{"d", Value::String("")}, {"attribute", Value::None()}}, name);
    if (!a.ok()) return a.status();
    return Join(value, *a);
  }
  if (name == "sort") {
    auto a = BindArgs(args, {{"reverse", Value::Bool(false)}, {"case_sensitive", Value::Bool(false)},
                             {"attribute", Value::None()}}, name);
    if (!a.ok()) return a.status();
    return Sort(value, *a);
  }
  if (name == "unique") {
    auto a = BindArgs(args, {{"case_sensitive", Value::Bool(false)}, {"attribute", Value::None()}}, name);
    if (!a.ok()) return a.status();
    return Unique(value, *a);
  }
  if (name == "int" || name == "float") {
    const bool is_int = name == "int";
    auto a = BindArgs(args, {{"default", is_int ? Value::Int(0) : Value::Float(0.0)}}, name);
    if (!a.ok()) return a.status();
    return is_int ? ToInt(value, (*a)[0]) : ToFloat(value, (*a)[0]);
  }
  if (auto a = BindArgs(args, {}, name); !a.ok()) return a.status();
  if (name == "length" || name == "count") {
    auto n = Length(value);
    if (!n.ok()) return n.status();
    return Value::Int(*n);
  }
  if (name == "first" || name == "last") return FirstOrLast(name, value);
  if (name == "list") {
    auto items = Iterate(value);
    if (!items.ok()) return items.status();
    return Value::List(std::move(*items));
  }
  if (name == "items") return ItemsFilter(value);
  if (name == "reverse") return Reverse(value);
  if (name == "abs") {
    if (value.kind() == ValueKind::kFloat) return Value::Float(std::fabs(value.AsDouble()));
    if (value.kind() == ValueKind::kInt || value.kind() == ValueKind::kBool) {
      if (value.int_value() == INT64_MIN) return Error(name, "integer overflow");
      return Value::Int(std::llabs(value.int_value()));
    }
    if (value.is_undefined()) return UndefinedError(value);
    return Error(name, absl::StrCat("bad operand type for abs(): '", value.TypeName(), "'"));
  }
  return Error(name, "not supported here");
}

}  // namespace tandem::tokenizer::jinja
