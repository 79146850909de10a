#include "tokenizer/hf_components.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::Status Unsupported(const std::string& path, const std::string& type) {
  return absl::UnimplementedError(
      absl::StrCat(path, ": unsupported type \"", type, "\""));
}

absl::StatusOr<std::string> TypeOf(const json& j, const std::string& path) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Bad(path, "expected an object with a string \"type\"");
  }
  return j["type"].get<std::string>();
}

bool BoolOr(const json& j, const char* key, bool fallback) {
  return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}

std::string StringOr(const json& j, const char* key, const std::string& fallback) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

// {"String": s} or {"Regex": r}; `literal` says which.
absl::Status Pattern(const json& j, const std::string& path, std::string& pattern,
                     bool& literal) {
  if (!j.contains("pattern") || !j["pattern"].is_object()) return Bad(path, "missing \"pattern\"");
  const json& p = j["pattern"];
  if (p.contains("String") && p["String"].is_string()) {
    pattern = p["String"].get<std::string>();
    literal = true;
  } else if (p.contains("Regex") && p["Regex"].is_string()) {
    pattern = p["Regex"].get<std::string>();
    literal = false;
  } else {
    return Bad(path + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }
  return absl::OkStatus();
}

absl::Status AddNormalizer(const json& j, const std::string& path,
                           std::vector<NormalizerStep>& steps) {
  auto type = TypeOf(j, path);
  if (!type.ok()) return type.status();
  using Kind = NormalizerStep::Kind;
  NormalizerStep step;
  if (*type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array()) {
      return Bad(path, "Sequence without a \"normalizers\" array");
    }
    for (size_t i = 0; i < j["normalizers"].size(); ++i) {
      auto s = AddNormalizer(j["normalizers"][i],
                             absl::StrCat(path, ".normalizers[", i, "]"), steps);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  } else if (*type == "NFC") { step.kind = Kind::kNfc;
  } else if (*type == "NFD") { step.kind = Kind::kNfd;
  } else if (*type == "NFKC") { step.kind = Kind::kNfkc;
  } else if (*type == "NFKD") { step.kind = Kind::kNfkd;
  } else if (*type == "Lowercase") { step.kind = Kind::kLowercase;
  } else if (*type == "Prepend") {
    if (!j.contains("prepend") || !j["prepend"].is_string()) return Bad(path, "Prepend without \"prepend\"");
    step.kind = Kind::kPrepend;
    step.text = j["prepend"].get<std::string>();
  } else if (*type == "Replace") {
    bool literal = false;
    if (auto s = Pattern(j, path, step.text, literal); !s.ok()) return s;
    if (!literal) return absl::UnimplementedError(absl::StrCat(path, ": Replace with a Regex pattern is not supported"));
    if (!j.contains("content") || !j["content"].is_string()) return Bad(path, "Replace without \"content\"");
    if (step.text.empty()) return Bad(path, "Replace with an empty pattern");
    step.kind = Kind::kReplace;
    step.replacement = j["content"].get<std::string>();
  } else {
    return Unsupported(path, *type);
  }
  steps.push_back(std::move(step));
  return absl::OkStatus();
}

absl::StatusOr<SplitBehavior> Behavior(const json& j, const std::string& path) {
  const std::string b = StringOr(j, "behavior", "Isolated");
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  return Bad(path, absl::StrCat("unknown split behavior \"", b, "\""));
}

absl::Status AddPreTokenizer(const json& j, const std::string& path,
                             std::vector<PreTokenizerStep>& steps) {
  auto type = TypeOf(j, path);
  if (!type.ok()) return type.status();
  using Kind = PreTokenizerStep::Kind;
  PreTokenizerStep step;
  if (*type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array()) {
      return Bad(path, "Sequence without a \"pretokenizers\" array");
    }
    for (size_t i = 0; i < j["pretokenizers"].size(); ++i) {
      auto s = AddPreTokenizer(j["pretokenizers"][i],
                               absl::StrCat(path, ".pretokenizers[", i, "]"), steps);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  } else if (*type == "Split") {
    std::string pattern;
    bool literal = false;
    if (auto s = Pattern(j, path, pattern, literal); !s.ok()) return s;
    auto behavior = Behavior(j, path);
    if (!behavior.ok()) return behavior.status();
    auto splitter = RegexSplitter::Create(pattern, literal, *behavior,
                                          BoolOr(j, "invert", false));
    if (!splitter.ok()) return Bad(path, splitter.status().message());
    step.kind = Kind::kSplit;
    step.splitter = std::move(*splitter);
  } else if (*type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    step.add_prefix_space = BoolOr(j, "add_prefix_space", true);
    if (BoolOr(j, "use_regex", true)) {
      auto splitter = RegexSplitter::Create(kGpt2Pattern, false, SplitBehavior::kIsolated, false);
      if (!splitter.ok()) return splitter.status();
      step.splitter = std::move(*splitter);
    }
  } else if (*type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    step.replacement = StringOr(j, "replacement", "\xE2\x96\x81");
    const std::string scheme = StringOr(
        j, "prepend_scheme", BoolOr(j, "add_prefix_space", true) ? "always" : "never");
    if (scheme == "always") step.prepend = PreTokenizerStep::Prepend::kAlways;
    else if (scheme == "first") step.prepend = PreTokenizerStep::Prepend::kFirst;
    else if (scheme == "never") step.prepend = PreTokenizerStep::Prepend::kNever;
    else return Bad(path, absl::StrCat("unknown prepend_scheme \"", scheme, "\""));
    step.split = BoolOr(j, "split", true);
  } else if (*type == "Digits") {
    step.kind = Kind::kDigits;
    step.individual_digits = BoolOr(j, "individual_digits", false);
  } else {
    return Unsupported(path, *type);
  }
  steps.push_back(std::move(step));
  return absl::OkStatus();
}

absl::StatusOr<int32_t> PairId(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2) {
    return Bad(path, absl::StrCat("expected \"", key, "\": [token, id]"));
  }
  return ParseHfTokenId(j[key][1], absl::StrCat(path, ".", key, "[1]"));
}

// An optional integer field; a present non-integer is an error (a float such
// as 1e300 must not reach an int conversion).
absl::StatusOr<int64_t> IntOr(const json& j, const char* key, int64_t fallback,
                              const std::string& path) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_number_integer()) {
    return Bad(path, absl::StrCat("\"", key, "\" must be an integer"));
  }
  return j[key].get<int64_t>();
}

absl::Status AddTemplate(const json& j, const std::string& path, PostProcessorIds& ids) {
  if (!j.contains("single") || !j["single"].is_array()) return Bad(path, "TemplateProcessing without \"single\"");
  bool seen_sequence = false;
  for (size_t i = 0; i < j["single"].size(); ++i) {
    const json& item = j["single"][i];
    const std::string item_path = absl::StrCat(path, ".single[", i, "]");
    if (item.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id") ||
        !item["SpecialToken"]["id"].is_string()) {
      return Bad(item_path, "expected {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}");
    }
    const std::string name = item["SpecialToken"]["id"].get<std::string>();
    const json* tokens = j.contains("special_tokens") ? &j["special_tokens"] : nullptr;
    if (tokens == nullptr || !tokens->contains(name) || !(*tokens)[name].contains("ids") ||
        !(*tokens)[name]["ids"].is_array()) {
      return Bad(item_path, absl::StrCat("special token \"", name, "\" is not in special_tokens"));
    }
    for (const json& id : (*tokens)[name]["ids"]) {
      absl::StatusOr<int32_t> parsed = ParseHfTokenId(id, item_path);
      if (!parsed.ok()) return parsed.status();
      (seen_sequence ? ids.suffix : ids.prefix).push_back(*parsed);
    }
  }
  return absl::OkStatus();
}

absl::Status AddPostProcessor(const json& j, const std::string& path, PostProcessorIds& ids) {
  auto type = TypeOf(j, path);
  if (!type.ok()) return type.status();
  if (*type == "ByteLevel") return absl::OkStatus();  // offsets only
  if (*type == "TemplateProcessing") return AddTemplate(j, path, ids);
  if (*type == "RobertaProcessing" || *type == "BertProcessing") {
    auto cls = PairId(j, "cls", path);
    auto sep = PairId(j, "sep", path);
    if (!cls.ok()) return cls.status();
    if (!sep.ok()) return sep.status();
    ids.prefix.push_back(*cls);
    ids.suffix.push_back(*sep);
    return absl::OkStatus();
  }
  if (*type == "Sequence") {
    if (!j.contains("processors") || !j["processors"].is_array()) {
      return Bad(path, "Sequence without a \"processors\" array");
    }
    for (size_t i = 0; i < j["processors"].size(); ++i) {
      auto s = AddPostProcessor(j["processors"][i],
                                absl::StrCat(path, ".processors[", i, "]"), ids);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return Unsupported(path, *type);
}

absl::Status AddDecoder(const json& j, const std::string& path, BpeDecoderConfig& d) {
  auto type = TypeOf(j, path);
  if (!type.ok()) return type.status();
  if (*type == "Sequence") {
    if (!j.contains("decoders") || !j["decoders"].is_array()) {
      return Bad(path, "Sequence without a \"decoders\" array");
    }
    for (size_t i = 0; i < j["decoders"].size(); ++i) {
      auto s = AddDecoder(j["decoders"][i], absl::StrCat(path, ".decoders[", i, "]"), d);
      if (!s.ok()) return s;
    }
  } else if (*type == "ByteLevel") {
    d.byte_level = true;
  } else if (*type == "Replace") {
    bool literal = false;
    std::string pattern;
    if (auto s = Pattern(j, path, pattern, literal); !s.ok()) return s;
    if (!literal || pattern.empty()) {
      return absl::UnimplementedError(absl::StrCat(path, ": only Replace with a non-empty String pattern is supported"));
    }
    d.replace_from = pattern;
    d.replace_to = StringOr(j, "content", "");
  } else if (*type == "ByteFallback") {
    d.byte_fallback = true;
  } else if (*type == "Fuse") {
  } else if (*type == "Strip") {
    absl::StatusOr<int64_t> start = IntOr(j, "start", 0, path);
    absl::StatusOr<int64_t> stop = IntOr(j, "stop", 0, path);
    if (!start.ok()) return start.status();
    if (!stop.ok()) return stop.status();
    if (StringOr(j, "content", " ") != " " || *start > 1 || *stop != 0) {
      return absl::UnimplementedError(absl::StrCat(path, ": only Strip(\" \", start <= 1, stop 0) is supported"));
    }
    d.strip_leading_space = *start == 1;
  } else if (*type == "Metaspace") {
    d.replace_from = StringOr(j, "replacement", "\xE2\x96\x81");
    d.replace_to = " ";
    const std::string scheme = StringOr(
        j, "prepend_scheme", BoolOr(j, "add_prefix_space", true) ? "always" : "never");
    d.strip_leading_space = scheme != "never";
  } else {
    return Unsupported(path, *type);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int32_t> ParseHfTokenId(const json& j, const std::string& path, int64_t limit) {
  limit = std::min(limit, kMaxHfTokenId);
  if (j.is_number_unsigned() && j.get<uint64_t>() < static_cast<uint64_t>(limit)) {
    return static_cast<int32_t>(j.get<uint64_t>());
  }
  if (j.is_number_integer() && !j.is_number_unsigned() && j.get<int64_t>() >= 0 &&
      j.get<int64_t>() < limit) {
    return static_cast<int32_t>(j.get<int64_t>());
  }
  if (!j.is_number_integer()) {
    return Bad(path, absl::StrCat("token id must be an integer, found ", j.type_name()));
  }
  const std::string value =
      j.is_number_unsigned() ? absl::StrCat(j.get<uint64_t>()) : absl::StrCat(j.get<int64_t>());
  return Bad(path, absl::StrCat("token id ", value, " is not in [0, ", limit, ")"));
}

absl::StatusOr<Normalizer> ParseHfNormalizer(const json& j, const std::string& path) {
  std::vector<NormalizerStep> steps;
  if (!j.is_null()) {
    if (auto s = AddNormalizer(j, path, steps); !s.ok()) return s;
  }
  return Normalizer(std::move(steps));
}

absl::StatusOr<PreTokenizer> ParseHfPreTokenizer(const json& j, const std::string& path) {
  std::vector<PreTokenizerStep> steps;
  if (!j.is_null()) {
    if (auto s = AddPreTokenizer(j, path, steps); !s.ok()) return s;
  }
  return PreTokenizer(std::move(steps));
}

absl::StatusOr<PostProcessorIds> ParseHfPostProcessor(const json& j, const std::string& path) {
  PostProcessorIds ids;
  if (!j.is_null()) {
    if (auto s = AddPostProcessor(j, path, ids); !s.ok()) return s;
  }
  return ids;
}

absl::StatusOr<BpeDecoderConfig> ParseHfDecoder(const json& j, const std::string& path) {
  BpeDecoderConfig d;
  if (!j.is_null()) {
    if (auto s = AddDecoder(j, path, d); !s.ok()) return s;
  }
  return d;
}

}  // namespace tandem::tokenizer
