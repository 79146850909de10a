#include "tokenizer/jinja/py_repr.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tokenizer/jinja/py_string.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer::jinja {
namespace {

absl::StatusOr<std::string> Join(const std::vector<Value>& items, absl::string_view open,
                                 absl::string_view close, bool one_tuple) {
  std::string out(open);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    auto item = PyRepr(items[i]);
    if (!item.ok()) return item.status();
    out += *item;
  }
  if (one_tuple) out += ",";
  return absl::StrCat(out, close);
}

absl::StatusOr<std::string> DictRepr(const DictData& dict) {
  std::string out = "{";
  for (size_t i = 0; i < dict.entries.size(); ++i) {
    if (i > 0) out += ", ";
    auto key = PyRepr(dict.entries[i].first);
    if (!key.ok()) return key.status();
    auto value = PyRepr(dict.entries[i].second);
    if (!value.ok()) return value.status();
    absl::StrAppend(&out, *key, ": ", *value);
  }
  return out + "}";
}

}  // namespace

std::string PyReprFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // The shortest digit string that round-trips (CPython's repr).
  char digits[64];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(digits, sizeof(digits), "%.*e", precision - 1, d);
    if (std::strtod(digits, nullptr) == d) break;
  }
  // digits = [-]D[.DDD]e[+-]XX
  std::string s(digits);
  const size_t e = s.find('e');
  const int exponent = std::atoi(s.c_str() + e + 1);
  std::string mantissa = s.substr(0, e);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string ds;
  for (char c : mantissa) {
    if (c != '.') ds += c;
  }
  std::string out;
  if (exponent < -4 || exponent >= 16) {
    out = ds.substr(0, 1);
    if (ds.size() > 1) out += "." + ds.substr(1);
    out += absl::StrFormat("e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (exponent < 0) {
    out = "0." + std::string(-exponent - 1, '0') + ds;
  } else if (static_cast<size_t>(exponent) + 1 >= ds.size()) {
    out = ds + std::string(exponent + 1 - ds.size(), '0') + ".0";
  } else {
    out = ds.substr(0, exponent + 1) + "." + ds.substr(exponent + 1);
  }
  return negative ? "-" + out : out;
}

std::string PyReprString(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : DecodeUtf8(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && !IsPyPrintable(cp))) {
      if (cp < 0x100) {
        out += absl::StrFormat("\\x%02x", static_cast<uint32_t>(cp));
      } else if (cp < 0x10000) {
        out += absl::StrFormat("\\u%04x", static_cast<uint32_t>(cp));
      } else {
        out += absl::StrFormat("\\U%08x", static_cast<uint32_t>(cp));
      }
    } else {
      AppendCodepoint(cp, out);
    }
  }
  out += quote;
  return out;
}

absl::StatusOr<std::string> PyRepr(const Value& v) {
  if (v.is_string()) return PyReprString(v.str());
  return PyStr(v);
}

absl::StatusOr<std::string> PyStr(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return std::string();
    case ValueKind::kNone: return std::string("None");
    case ValueKind::kBool: return std::string(v.bool_value() ? "True" : "False");
    case ValueKind::kInt: return absl::StrCat(v.int_value());
    case ValueKind::kFloat: return PyReprFloat(v.AsDouble());
    case ValueKind::kString: return v.str();
    case ValueKind::kDict: return DictRepr(v.dict());
    case ValueKind::kNamespace: {
      auto attrs = DictRepr(v.dict());
      if (!attrs.ok()) return attrs.status();
      return absl::StrCat("<Namespace ", *attrs, ">");
    }
    case ValueKind::kList: break;
  }
  const auto& items = v.list().items;
  switch (v.flavor()) {
    case ListFlavor::kList: return Join(items, "[", "]", false);
    case ListFlavor::kTuple: return Join(items, "(", ")", items.size() == 1);
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "printing a ", v.TypeName(),
          " object is not supported (jinja2 would print its address); convert it with |list"));
  }
}

}  // namespace tandem::tokenizer::jinja
