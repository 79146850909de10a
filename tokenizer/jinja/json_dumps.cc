#include "tokenizer/jinja/json_dumps.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tokenizer/jinja/py_repr.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer::jinja {
namespace {

std::string Quote(const std::string& s, bool ensure_ascii) {
  std::string out = "\"";
  for (char32_t cp : DecodeUtf8(s)) {
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
      if (cp >= 0x10000) {
        const char32_t v = cp - 0x10000;
        out += absl::StrFormat("\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        out += absl::StrFormat("\\u%04x", static_cast<uint32_t>(cp));
      }
    } else {
      AppendCodepoint(cp, out);
    }
  }
  return out + "\"";
}

std::string Float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return PyReprFloat(d);
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpsOptions& options) : options_(options) {
    item_sep_ = options.item_separator.value_or(options.indent ? "," : ", ");
    key_sep_ = options.key_separator.value_or(": ");
  }

  absl::Status Dump(const Value& v, int depth) {
    if (depth > 200) return absl::InvalidArgumentError("tojson: value nested too deeply");
    switch (v.kind()) {
      case ValueKind::kNone: out_ += "null"; return absl::OkStatus();
      case ValueKind::kBool: out_ += v.bool_value() ? "true" : "false"; return absl::OkStatus();
      case ValueKind::kInt: absl::StrAppend(&out_, v.int_value()); return absl::OkStatus();
      case ValueKind::kFloat: out_ += Float(v.AsDouble()); return absl::OkStatus();
      case ValueKind::kString: out_ += Quote(v.str(), options_.ensure_ascii); return absl::OkStatus();
      case ValueKind::kDict: return DumpDict(v.dict(), depth);
      case ValueKind::kList:
        if (v.flavor() == ListFlavor::kList || v.flavor() == ListFlavor::kTuple) {
          return DumpList(v.list().items, depth);
        }
        break;
      default: break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("Object of type ", v.TypeName(), " is not JSON serializable"));
  }

  std::string& out() { return out_; }

 private:
  void Newline(int depth) {
    if (!options_.indent) return;
    out_ += "\n";
    for (int i = 0; i < depth; ++i) out_ += *options_.indent;
  }

  absl::Status DumpList(const std::vector<Value>& items, int depth) {
    if (items.empty()) {
      out_ += "[]";
      return absl::OkStatus();
    }
    out_ += "[";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += item_sep_;
      Newline(depth + 1);
      if (auto s = Dump(items[i], depth + 1); !s.ok()) return s;
    }
    Newline(depth);
    out_ += "]";
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Key(const Value& key) {
    switch (key.kind()) {
      case ValueKind::kString: return key.str();
      case ValueKind::kNone: return std::string("null");
      case ValueKind::kBool: return std::string(key.bool_value() ? "true" : "false");
      case ValueKind::kInt: return absl::StrCat(key.int_value());
      case ValueKind::kFloat: return Float(key.AsDouble());
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            "keys must be str, int, float, bool or None, not ", key.TypeName()));
    }
  }

  absl::Status DumpDict(const DictData& dict, int depth) {
    if (dict.entries.empty()) {
      out_ += "{}";
      return absl::OkStatus();
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& e : dict.entries) entries.push_back(&e);
    if (options_.sort_keys) {
      for (const auto* e : entries) {
        if (!e->first.is_string()) {
          return absl::InvalidArgumentError("tojson(sort_keys=true) supports string keys only");
        }
      }
      std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
        return a->first.str() < b->first.str();
      });
    }
    out_ += "{";
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out_ += item_sep_;
      Newline(depth + 1);
      auto key = Key(entries[i]->first);
      if (!key.ok()) return key.status();
      out_ += Quote(*key, options_.ensure_ascii) + key_sep_;
      if (auto s = Dump(entries[i]->second, depth + 1); !s.ok()) return s;
    }
    Newline(depth);
    out_ += "}";
    return absl::OkStatus();
  }

  const JsonDumpsOptions& options_;
  std::string item_sep_;
  std::string key_sep_;
  std::string out_;
};

}  // namespace

absl::StatusOr<std::string> JsonDumps(const Value& v, const JsonDumpsOptions& options) {
  Dumper dumper(options);
  if (auto s = dumper.Dump(v, 0); !s.ok()) return s;
  return std::move(dumper.out());
}

}  // namespace tandem::tokenizer::jinja
