#include "tokenizer/jinja/methods.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/py_string.h"

namespace tandem::tokenizer::jinja {
namespace {

absl::Status TypeError(absl::string_view what) { return absl::InvalidArgumentError(what); }

// An optional str argument (None = absent).
absl::StatusOr<std::optional<std::string>> OptionalString(const Value& v, absl::string_view method) {
  if (v.is_none()) return std::optional<std::string>();
  if (!v.is_string()) {
    return TypeError(absl::StrCat(method, " arg must be None or str, not ", v.TypeName()));
  }
  return std::optional<std::string>(v.str());
}

absl::StatusOr<Value> Affix(const std::string& s, const Value& affix, bool prefix) {
  std::vector<Value> candidates;
  if (affix.is_list() && affix.flavor() == ListFlavor::kTuple) {
    candidates = affix.list().items;
  } else {
    candidates.push_back(affix);
  }
  for (const Value& c : candidates) {
    if (!c.is_string()) {
      return TypeError(absl::StrCat(prefix ? "startswith" : "endswith",
                                    " first arg must be str or a tuple of str, not ",
                                    c.TypeName()));
    }
    const std::string& a = c.str();
    if (a.size() <= s.size() &&
        (prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0)) {
      return Value::Bool(true);
    }
  }
  return Value::Bool(false);
}

absl::StatusOr<Value> StringMethod(const std::string& s, absl::string_view name,
                                   const CallArgs& args) {
  const std::string callee = absl::StrCat("str.", name);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto a = BindArgs(args, {{"chars", Value::None()}}, callee);
    if (!a.ok()) return a.status();
    auto chars = OptionalString((*a)[0], name);
    if (!chars.ok()) return chars.status();
    const StripSide side = name == "strip" ? StripSide::kBoth
                           : name == "lstrip" ? StripSide::kLeft : StripSide::kRight;
    return Value::String(PyStrip(s, *chars, side));
  }
  if (name == "split") {
    auto a = BindArgs(args, {{"sep", Value::None()}, {"maxsplit", Value::Int(-1)}}, callee);
    if (!a.ok()) return a.status();
    auto sep = OptionalString((*a)[0], name);
    if (!sep.ok()) return sep.status();
    if (*sep && (*sep)->empty()) return TypeError("empty separator");
    if ((*a)[1].kind() != ValueKind::kInt) return TypeError("maxsplit must be an integer");
    std::vector<Value> parts;
    for (auto& p : PySplit(s, *sep, (*a)[1].int_value())) parts.push_back(Value::String(p));
    return Value::List(std::move(parts));
  }
  if (name == "startswith" || name == "endswith") {
    auto a = BindArgs(args, {{"prefix", std::nullopt}}, callee);
    if (!a.ok()) return a.status();
    return Affix(s, (*a)[0], name == "startswith");
  }
  if (name == "replace") {
    auto a = BindArgs(args, {{"old", std::nullopt}, {"new", std::nullopt}, {"count", Value::Int(-1)}},
                      callee);
    if (!a.ok()) return a.status();
    if (!(*a)[0].is_string() || !(*a)[1].is_string() || (*a)[2].kind() != ValueKind::kInt) {
      return TypeError("str.replace() takes two strings and an integer count");
    }
    return Value::String(PyReplace(s, (*a)[0].str(), (*a)[1].str(), (*a)[2].int_value()));
  }
  if (name == "find" || name == "count") {
    auto a = BindArgs(args, {{"sub", std::nullopt}}, callee);
    if (!a.ok()) return a.status();
    if (!(*a)[0].is_string()) return TypeError(absl::StrCat(callee, "() argument must be str"));
    const std::string& sub = (*a)[0].str();
    if (name == "find") {
      const size_t at = s.find(sub);
      if (at == std::string::npos) return Value::Int(-1);
      return Value::Int(*Length(Value::String(s.substr(0, at))));
    }
    if (sub.empty()) return Value::Int(*Length(Value::String(s)) + 1);
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value::Int(n);
  }
  if (name == "join") {
    auto a = BindArgs(args, {{"iterable", std::nullopt}}, callee);
    if (!a.ok()) return a.status();
    auto items = Iterate((*a)[0]);
    if (!items.ok()) return items.status();
    std::vector<std::string> parts;
    for (const Value& item : *items) {
      if (!item.is_string()) {
        return TypeError(absl::StrCat("sequence item ", parts.size(),
                                      ": expected str instance, ", item.TypeName(), " found"));
      }
      parts.push_back(item.str());
    }
    return Value::String(absl::StrJoin(parts, s));
  }
  auto a = BindArgs(args, {}, callee);
  if (!a.ok()) return a.status();
  if (name == "upper") return Value::String(PyUpper(s));
  if (name == "lower") return Value::String(PyLower(s));
  if (name == "title") return Value::String(PyTitle(s));
  if (name == "capitalize") return Value::String(PyCapitalize(s));
  return absl::InvalidArgumentError(absl::StrCat("'str object' has no attribute '", name, "'"));
}

absl::StatusOr<Value> DictMethod(const Value& dict, absl::string_view name, const CallArgs& args) {
  const std::string callee = absl::StrCat("dict.", name);
  if (name == "get") {
    auto a = BindArgs(args, {{"key", std::nullopt}, {"default", Value::None()}}, callee);
    if (!a.ok()) return a.status();
    const Value* v = dict.dict().Find((*a)[0]);
    return v != nullptr ? *v : (*a)[1];
  }
  auto a = BindArgs(args, {}, callee);
  if (!a.ok()) return a.status();
  std::vector<Value> out;
  for (const auto& [k, v] : dict.dict().entries) {
    if (name == "keys") {
      out.push_back(k);
    } else if (name == "values") {
      out.push_back(v);
    } else {
      out.push_back(Value::List({k, v}, ListFlavor::kTuple));
    }
  }
  return Value::List(std::move(out), ListFlavor::kView);
}

}  // namespace

absl::StatusOr<Value> CallMethod(const Value& obj, absl::string_view name,
                                 const CallArgs& args) {
  if (obj.is_string()) return StringMethod(obj.str(), name, args);
  if (obj.is_dict() && (name == "get" || name == "items" || name == "keys" || name == "values")) {
    return DictMethod(obj, name, args);
  }
  // jinja2 looks the attribute up (undefined, or a dict item) and calls it.
  auto attr = GetAttr(obj, name);
  if (!attr.ok()) return attr.status();
  if (attr->is_undefined()) return UndefinedError(*attr);
  return absl::InvalidArgumentError(absl::StrCat("'", attr->TypeName(), "' object is not callable"));
}

}  // namespace tandem::tokenizer::jinja
