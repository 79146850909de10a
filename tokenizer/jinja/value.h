#ifndef TANDEM_TOKENIZER_JINJA_VALUE_H_
#define TANDEM_TOKENIZER_JINJA_VALUE_H_

// The values a Jinja template computes with, modelled on the Python objects
// jinja2 would hold: undefined (jinja2's default Undefined), None, bool, int
// (64-bit; overflow is an error, never a wrap), float, str (UTF-8), list,
// tuple, dict (insertion-ordered), namespace, and the lazy results jinja2
// returns from filters such as selectattr (generators: iterable once, no
// len, not printable) and from dict.items() (views: not printable).
//
// Lists, dicts and namespaces are shared by reference, as in Python: a
// namespace attribute assigned through one copy is seen through all.
// Values are not thread-safe; each render builds its own.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tandem::tokenizer::jinja {

enum class ValueKind {
  kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace,
};

// How a sequence value behaves beyond its items.
enum class ListFlavor {
  kList,       // a Python list
  kTuple,      // a Python tuple (prints with parentheses)
  kGenerator,  // a generator: consumed by iteration, no len(), always true
  kView,       // dict_items / dict_keys / dict_values / range: not printable
};

class Value;

struct ListData {
  std::vector<Value> items;
  ListFlavor flavor = ListFlavor::kList;
  size_t consumed = 0;  // generators: items already taken by an iteration
};

// An insertion-ordered mapping (also the attributes of a namespace).
struct DictData {
  std::vector<std::pair<Value, Value>> entries;

  const Value* Find(const Value& key) const;
  void Set(Value key, Value value);
};

class Value {
 public:
  // Undefined, without a name.
  Value() = default;

  // `hint` is jinja2's message for misuse, e.g. "'x' is undefined".
  static Value Undefined(std::string hint);
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double d);
  static Value String(std::string s);
  static Value List(std::vector<Value> items, ListFlavor flavor = ListFlavor::kList);
  static Value Dict();
  static Value Namespace();

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_list() const { return kind_ == ValueKind::kList; }
  bool is_dict() const { return kind_ == ValueKind::kDict; }
  bool is_namespace() const { return kind_ == ValueKind::kNamespace; }
  // int, float or bool (Python's numbers.Number).
  bool is_number() const;

  bool bool_value() const { return bool_; }
  int64_t int_value() const { return int_; }
  // int, bool or float as a double.
  double AsDouble() const;
  const std::string& str() const { return str_; }
  const std::string& undefined_hint() const { return str_; }
  // Valid for lists (and tuples, generators, views).
  ListData& list() const { return *list_; }
  // Valid for dicts and namespaces.
  DictData& dict() const { return *dict_; }
  ListFlavor flavor() const { return list_->flavor; }

  // Python's type(x).__name__ ("str", "int", "dict", "generator", ...).
  std::string TypeName() const;

 private:
  ValueKind kind_ = ValueKind::kUndefined;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::string str_;  // string value, or the undefined hint
  std::shared_ptr<ListData> list_;
  std::shared_ptr<DictData> dict_;
};

// Python truthiness (undefined is false, generators are true).
bool Truthy(const Value& v);

// Python ==, with jinja2's Undefined.__eq__ (equal only to undefined).
bool Equals(const Value& a, const Value& b);

// Python's <, <=, >, >= for numbers, strings and sequences (op is one of
// "<", "<=", ">", ">="). InvalidArgument for other types, as Python's
// TypeError; undefined operands are jinja2's UndefinedError.
absl::StatusOr<bool> Less(const Value& a, const Value& b, absl::string_view op);

// The items an iteration (for loop, list(), join, ...) sees: list items
// (a generator's remaining ones, which it then marks consumed), a dict's
// keys, a string's characters, nothing for undefined. InvalidArgument for
// None, numbers and namespaces ("'int' object is not iterable").
absl::StatusOr<std::vector<Value>> Iterate(const Value& v);

// len(v): strings count code points. Undefined is 0 (jinja2). InvalidArgument
// for numbers, None and generators.
absl::StatusOr<int64_t> Length(const Value& v);

// The message of an operation on undefined, jinja2's UndefinedError.
absl::Status UndefinedError(const Value& v);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_VALUE_H_
