#include "tokenizer/jinja/access.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tokenizer/jinja/py_repr.h"
#include "tokenizer/jinja/py_string.h"

namespace tandem::tokenizer::jinja {
namespace {

using NameSet = std::set<std::string, std::less<>>;

// Python attributes of the built-in types templates meet.
const NameSet& PythonAttributes(const Value& obj) {
  static const auto* kDict = new NameSet{"clear", "copy", "fromkeys", "get", "items", "keys",
                                         "pop", "popitem", "setdefault", "update", "values"};
  static const auto* kList = new NameSet{"append", "clear", "copy", "count", "extend", "index",
                                         "insert", "pop", "remove", "reverse", "sort"};
  static const auto* kStr = new NameSet{
      "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs",
      "find", "format", "format_map", "index", "isalnum", "isalpha", "isascii",
      "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable",
      "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans",
      "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
      "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
      "swapcase", "title", "translate", "upper", "zfill"};
  static const auto* kNumber = new NameSet{"real", "imag", "numerator", "denominator",
                                           "conjugate", "bit_length", "as_integer_ratio",
                                           "hex", "is_integer", "to_bytes", "from_bytes"};
  static const auto* kTuple = new NameSet{"count", "index"};
  static const auto* kNone = new NameSet{};
  switch (obj.kind()) {
    case ValueKind::kDict: return *kDict;
    case ValueKind::kList:
      if (obj.flavor() == ListFlavor::kList) return *kList;
      return obj.flavor() == ListFlavor::kTuple ? *kTuple : *kNone;
    case ValueKind::kString: return *kStr;
    case ValueKind::kInt:
    case ValueKind::kFloat:
    case ValueKind::kBool: return *kNumber;
    default: return *kNone;
  }
}

std::string ObjectTypeRepr(const Value& obj) {
  if (obj.is_none()) return "None";
  return absl::StrCat(obj.TypeName(), " object");
}

absl::Status MethodWithoutCall(const Value& obj, absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat("unsupported: the ", obj.TypeName(),
                                                 " method '", name,
                                                 "' used without calling it"));
}

Value NoAttribute(const Value& obj, absl::string_view name) {
  return Value::Undefined(
      absl::StrCat("'", ObjectTypeRepr(obj), "' has no attribute '", name, "'"));
}

// Python's obj[key] for sequences; nullopt when it would raise.
std::optional<Value> Index(const Value& obj, const Value& key) {
  if (key.kind() != ValueKind::kInt && key.kind() != ValueKind::kBool) return std::nullopt;
  int64_t i = key.int_value();
  if (obj.is_string()) {
    const int64_t n = *Length(obj);
    if (i < 0) i += n;
    if (i < 0 || i >= n) return std::nullopt;
    return Value::String(PySliceString(obj.str(), i, i + 1, 1));
  }
  const auto& items = obj.list().items;
  const int64_t n = static_cast<int64_t>(items.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return std::nullopt;
  return items[i];
}

}  // namespace

absl::StatusOr<Value> GetAttr(const Value& obj, absl::string_view name) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (PythonAttributes(obj).count(name) > 0) return MethodWithoutCall(obj, name);
  if (obj.is_namespace() || obj.is_dict()) {
    if (const Value* v = obj.dict().Find(Value::String(std::string(name)))) return *v;
  }
  return NoAttribute(obj, name);
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj);
  std::optional<Value> found;
  if (obj.is_dict()) {
    if (const Value* v = obj.dict().Find(key)) found = *v;
  } else if (obj.is_string() ||
             (obj.is_list() && (obj.flavor() == ListFlavor::kList ||
                                obj.flavor() == ListFlavor::kTuple))) {
    found = Index(obj, key);
  }
  if (found) return *found;
  if (key.is_string()) {
    if (PythonAttributes(obj).count(key.str()) > 0) return MethodWithoutCall(obj, key.str());
    if (obj.is_namespace()) {
      if (const Value* v = obj.dict().Find(key)) return *v;
    }
    return NoAttribute(obj, key.str());
  }
  auto repr = PyRepr(key);
  return Value::Undefined(absl::StrCat(ObjectTypeRepr(obj), " has no element ",
                                       repr.ok() ? *repr : std::string("?")));
}

absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step) {
  if (obj.is_undefined()) return UndefinedError(obj);
  std::optional<int64_t> bounds[3];
  const Value* parts[3] = {&start, &stop, &step};
  for (int i = 0; i < 3; ++i) {
    if (parts[i]->kind() == ValueKind::kInt || parts[i]->kind() == ValueKind::kBool) {
      bounds[i] = parts[i]->int_value();
    } else if (parts[i]->is_undefined()) {
      // Undefined.__index__ raises the TypeError itself (not turned into undefined).
      return absl::InvalidArgumentError(
          "slice indices must be integers or None or have an __index__ method");
    } else if (!parts[i]->is_none()) {
      // Python raises TypeError, which jinja2's getitem turns into undefined.
      return Value::Undefined(absl::StrCat(ObjectTypeRepr(obj), " has no element slice"));
    }
  }
  if (bounds[2] && *bounds[2] == 0) return absl::InvalidArgumentError("slice step cannot be zero");
  if (obj.is_string()) return Value::String(PySliceString(obj.str(), bounds[0], bounds[1], bounds[2]));
  if (!obj.is_list() ||
      (obj.flavor() != ListFlavor::kList && obj.flavor() != ListFlavor::kTuple)) {
    return Value::Undefined(absl::StrCat(ObjectTypeRepr(obj), " has no element slice"));
  }
  const auto& items = obj.list().items;
  std::vector<Value> out;
  for (int64_t i : SliceIndices(static_cast<int64_t>(items.size()), bounds[0], bounds[1],
                                bounds[2])) {
    out.push_back(items[i]);
  }
  return Value::List(std::move(out), obj.flavor());
}

absl::StatusOr<Value> GetAttributePath(const Value& obj, absl::string_view path) {
  Value item = obj;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    int64_t index = 0;
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), absl::ascii_isdigit);
    auto next = digits && absl::SimpleAtoi(part, &index)
                    ? GetItem(item, Value::Int(index))
                    : GetItem(item, Value::String(std::string(part)));
    if (!next.ok()) return next;
    item = std::move(*next);
  }
  return item;
}

}  // namespace tandem::tokenizer::jinja
