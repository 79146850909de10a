#include "tokenizer/jinja/value.h"

#include "absl/strings/str_cat.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer::jinja {

const Value* DictData::Find(const Value& key) const {
  for (const auto& [k, v] : entries) {
    if (Equals(k, key)) return &v;
  }
  return nullptr;
}

void DictData::Set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (Equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::Undefined(std::string hint) {
  Value v;
  v.str_ = std::move(hint);
  return v;
}

Value Value::None() {
  Value v;
  v.kind_ = ValueKind::kNone;
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = ValueKind::kBool;
  v.bool_ = b;
  v.int_ = b ? 1 : 0;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = ValueKind::kInt;
  v.int_ = i;
  return v;
}

Value Value::Float(double d) {
  Value v;
  v.kind_ = ValueKind::kFloat;
  v.float_ = d;
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.kind_ = ValueKind::kString;
  v.str_ = std::move(s);
  return v;
}

Value Value::List(std::vector<Value> items, ListFlavor flavor) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.list_ = std::make_shared<ListData>();
  v.list_->items = std::move(items);
  v.list_->flavor = flavor;
  return v;
}

Value Value::Dict() {
  Value v;
  v.kind_ = ValueKind::kDict;
  v.dict_ = std::make_shared<DictData>();
  return v;
}

Value Value::Namespace() {
  Value v = Dict();
  v.kind_ = ValueKind::kNamespace;
  return v;
}

bool Value::is_number() const {
  return kind_ == ValueKind::kInt || kind_ == ValueKind::kFloat || kind_ == ValueKind::kBool;
}

double Value::AsDouble() const {
  return kind_ == ValueKind::kFloat ? float_ : static_cast<double>(int_);
}

std::string Value::TypeName() const {
  switch (kind_) {
    case ValueKind::kUndefined: return "Undefined";
    case ValueKind::kNone: return "NoneType";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kFloat: return "float";
    case ValueKind::kString: return "str";
    case ValueKind::kDict: return "dict";
    case ValueKind::kNamespace: return "Namespace";
    case ValueKind::kList: break;
  }
  switch (list_->flavor) {
    case ListFlavor::kList: return "list";
    case ListFlavor::kTuple: return "tuple";
    case ListFlavor::kGenerator: return "generator";
    case ListFlavor::kView: return "view";
  }
  return "list";
}

bool Truthy(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return false;
    case ValueKind::kBool:
    case ValueKind::kInt: return v.int_value() != 0;
    case ValueKind::kFloat: return v.AsDouble() != 0.0;
    case ValueKind::kString: return !v.str().empty();
    case ValueKind::kList:
      return v.flavor() == ListFlavor::kGenerator || !v.list().items.empty();
    case ValueKind::kDict: return !v.dict().entries.empty();
    case ValueKind::kNamespace: return true;
  }
  return false;
}

namespace {

bool SequencesEqual(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!Equals(a[i], b[i])) return false;
  }
  return true;
}

bool DictsEqual(const DictData& a, const DictData& b) {
  if (a.entries.size() != b.entries.size()) return false;
  for (const auto& [k, v] : a.entries) {
    const Value* other = b.Find(k);
    if (other == nullptr || !Equals(v, *other)) return false;
  }
  return true;
}

}  // namespace

bool Equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == ValueKind::kFloat || b.kind() == ValueKind::kFloat) {
      return a.AsDouble() == b.AsDouble();
    }
    return a.int_value() == b.int_value();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return true;
    case ValueKind::kString: return a.str() == b.str();
    case ValueKind::kList:
      if (&a.list() == &b.list()) return true;
      if (a.flavor() != b.flavor()) return false;
      if (a.flavor() == ListFlavor::kGenerator) return false;
      return SequencesEqual(a.list().items, b.list().items);
    case ValueKind::kDict: return &a.dict() == &b.dict() || DictsEqual(a.dict(), b.dict());
    case ValueKind::kNamespace: return &a.dict() == &b.dict();
    default: return false;
  }
}

absl::Status UndefinedError(const Value& v) {
  return absl::InvalidArgumentError(v.undefined_hint().empty() ? "undefined value"
                                                              : v.undefined_hint());
}

absl::StatusOr<bool> Less(const Value& a, const Value& b, absl::string_view op) {
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  int cmp = 0;
  if (a.is_number() && b.is_number()) {
    const double x = a.AsDouble(), y = b.AsDouble();
    if (a.kind() != ValueKind::kFloat && b.kind() != ValueKind::kFloat) {
      cmp = a.int_value() < b.int_value() ? -1 : a.int_value() > b.int_value();
    } else if (x != x || y != y) {
      return false;  // NaN compares false with everything
    } else {
      cmp = x < y ? -1 : x > y;
    }
  } else if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code point order, as Python compares str.
    cmp = a.str().compare(b.str());
    cmp = cmp < 0 ? -1 : cmp > 0;
  } else if (a.is_list() && b.is_list() && a.flavor() == b.flavor() &&
             (a.flavor() == ListFlavor::kList || a.flavor() == ListFlavor::kTuple)) {
    const auto& x = a.list().items;
    const auto& y = b.list().items;
    size_t i = 0;
    while (i < x.size() && i < y.size() && Equals(x[i], y[i])) ++i;
    if (i < x.size() && i < y.size()) return Less(x[i], y[i], op);
    cmp = x.size() < y.size() ? -1 : x.size() > y.size();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", op, "' not supported between instances of '", a.TypeName(),
                     "' and '", b.TypeName(), "'"));
  }
  if (op == "<") return cmp < 0;
  if (op == "<=") return cmp <= 0;
  if (op == ">") return cmp > 0;
  return cmp >= 0;
}

absl::StatusOr<std::vector<Value>> Iterate(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return std::vector<Value>{};
    case ValueKind::kString: {
      std::vector<Value> chars;
      for (char32_t cp : DecodeUtf8(v.str())) {
        std::string s;
        AppendCodepoint(cp, s);
        chars.push_back(Value::String(std::move(s)));
      }
      return chars;
    }
    case ValueKind::kList: {
      ListData& data = v.list();
      if (data.flavor != ListFlavor::kGenerator) return data.items;
      std::vector<Value> rest(data.items.begin() + data.consumed, data.items.end());
      data.consumed = data.items.size();
      return rest;
    }
    case ValueKind::kDict: {
      std::vector<Value> keys;
      for (const auto& entry : v.dict().entries) keys.push_back(entry.first);
      return keys;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("'", v.TypeName(), "' object is not iterable"));
  }
}

absl::StatusOr<int64_t> Length(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return 0;
    case ValueKind::kString: return static_cast<int64_t>(DecodeUtf8(v.str()).size());
    case ValueKind::kList:
      if (v.flavor() != ListFlavor::kGenerator) return v.list().items.size();
      break;
    case ValueKind::kDict: return v.dict().entries.size();
    default: break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("object of type '", v.TypeName(), "' has no len()"));
}

}  // namespace tandem::tokenizer::jinja
