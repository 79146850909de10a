#include "tools/convert/tokenizer_json_vocab.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace tandem::tools {
namespace {

using tokenizer::GgufMetadata;
using tokenizer::GgufType;
using tokenizer::GgufValue;
using Json = nlohmann::json;

constexpr int kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

absl::Status Unsupported(const std::string& path, const std::string& what) {
  return absl::UnimplementedError(absl::StrCat(
      path, ": ", what, " (only GPT-2 style byte-level BPE tokenizer.json can be embedded)"));
}

// Only GPT-2's own pre-tokenization maps to a llama.cpp pre type exactly.
absl::Status CheckGpt2Style(const Json& j, const std::string& path) {
  const Json& model = j["model"];
  if (!model.is_object() || model.value("type", "") != "BPE") {
    return Unsupported(path, "the model is not BPE");
  }
  if (model.value("byte_fallback", false)) return Unsupported(path, "BPE byte_fallback");
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    return Unsupported(path, "a normalizer");
  }
  const Json& pre = j["pre_tokenizer"];
  if (!pre.is_object() || pre.value("type", "") != "ByteLevel" ||
      !pre.value("use_regex", true) || pre.value("add_prefix_space", false)) {
    return Unsupported(path, "a pre-tokenizer other than ByteLevel(use_regex, no prefix space)");
  }
  return absl::OkStatus();
}

GgufValue Array(GgufType type) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.array_type = type;
  return v;
}

GgufValue Scalar(GgufType type, double number, std::string text = "") {
  GgufValue v;
  v.type = type;
  v.number = number;
  v.text = std::move(text);
  return v;
}

}  // namespace

absl::StatusOr<GgufMetadata> ReadTokenizerJsonAsGguf(const std::string& path, int64_t bos_id,
                                                     int64_t eos_id) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  const Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  }
  if (absl::Status s = CheckGpt2Style(j, path); !s.ok()) return s;
  std::vector<std::string> tokens;
  std::vector<int> types;
  auto place = [&](const std::string& text, int64_t id, int type) -> absl::Status {
    if (id < 0 || id > 10'000'000) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": token id ", id, " out of range"));
    }
    if (static_cast<size_t>(id) >= tokens.size()) {
      for (size_t i = tokens.size(); i <= static_cast<size_t>(id); ++i) {
        tokens.push_back(absl::StrCat("[PAD", i, "]"));
        types.push_back(kUnused);
      }
    }
    tokens[id] = text;
    types[id] = type;
    return absl::OkStatus();
  };
  const Json& vocab = j["model"]["vocab"];
  if (!vocab.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": model.vocab is not an object"));
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_integer()) return absl::InvalidArgumentError(absl::StrCat(path, ": vocab id of \"", text, "\" is not an integer"));
    if (absl::Status s = place(text, id.get<int64_t>(), kNormal); !s.ok()) return s;
  }
  for (const Json& added : j.value("added_tokens", Json::array())) {
    if (!added.is_object() || !added.contains("id") || !added["id"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed added_tokens entry"));
    }
    const int type = added.value("special", false) ? kControl : kUserDefined;
    absl::Status s = place(added.value("content", ""), added["id"].get<int64_t>(), type);
    if (!s.ok()) return s;
  }
  GgufValue merges = Array(GgufType::kString);
  for (const Json& m : j["model"].value("merges", Json::array())) {
    if (m.is_string()) {
      merges.strings.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.strings.push_back(absl::StrCat(m[0].get<std::string>(), " ", m[1].get<std::string>()));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed merge ", m.dump()));
    }
  }
  GgufMetadata meta;
  meta.values["tokenizer.ggml.model"] = Scalar(GgufType::kString, 0, "gpt2");
  meta.values["tokenizer.ggml.pre"] = Scalar(GgufType::kString, 0, "gpt-2");
  GgufValue token_values = Array(GgufType::kString);
  token_values.strings = std::move(tokens);
  GgufValue type_values = Array(GgufType::kInt32);
  type_values.numbers.assign(types.begin(), types.end());
  meta.values["tokenizer.ggml.tokens"] = std::move(token_values);
  meta.values["tokenizer.ggml.token_type"] = std::move(type_values);
  meta.values["tokenizer.ggml.merges"] = std::move(merges);
  if (bos_id >= 0) meta.values["tokenizer.ggml.bos_token_id"] = Scalar(GgufType::kUint32, bos_id);
  if (eos_id >= 0) meta.values["tokenizer.ggml.eos_token_id"] = Scalar(GgufType::kUint32, eos_id);
  return meta;
}

}  // namespace tandem::tools
