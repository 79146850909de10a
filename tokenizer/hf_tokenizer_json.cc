#include "tokenizer/hf_tokenizer_json.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/hf_components.h"

namespace tandem::tokenizer {
namespace {

using nlohmann::json;

absl::Status Bad(absl::string_view source, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

absl::Status Prefixed(absl::string_view source, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(source, ": ", s.message()));
}

absl::Status ParseMerges(const json& merges, absl::string_view source,
                         BpeModelConfig& config) {
  if (!merges.is_array()) return Bad(source, "model.merges is not an array");
  config.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ', 1);
      if (space == std::string::npos) {
        return Bad(source, absl::StrCat("model.merges[", i, "] \"", s, "\" is not \"a b\""));
      }
      config.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      config.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return Bad(source, absl::StrCat("model.merges[", i, "] is neither \"a b\" nor [\"a\", \"b\"]"));
    }
  }
  return absl::OkStatus();
}

// Ids must lie below `id_limit` (see IdLimit).
absl::StatusOr<BpeModelConfig> ParseModel(const json& model, absl::string_view source,
                                          int64_t id_limit) {
  if (!model.is_object()) return Bad(source, "missing \"model\" object");
  const std::string type = model.value("type", std::string("BPE"));
  if (type != "BPE") {
    return absl::UnimplementedError(absl::StrCat(source, ": model.type \"", type,
                                                 "\" is not supported (only BPE)"));
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      return absl::UnimplementedError(absl::StrCat(source, ": model.", key, " is not supported"));
    }
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return Bad(source, "model.vocab is missing or not an object");
  }
  BpeModelConfig config;
  for (const auto& [token, id] : model["vocab"].items()) {
    absl::StatusOr<int32_t> parsed =
        ParseHfTokenId(id, absl::StrCat("model.vocab[\"", token, "\"]"), id_limit);
    if (!parsed.ok()) return Prefixed(source, parsed.status());
    const size_t i = static_cast<size_t>(*parsed);
    if (config.tokens.size() <= i) config.tokens.resize(i + 1);
    if (!config.tokens[i].empty()) {
      return Bad(source, absl::StrCat("model.vocab: id ", i, " is used by both \"",
                                      config.tokens[i], "\" and \"", token, "\""));
    }
    config.tokens[i] = token;
  }
  if (model.contains("merges")) {
    if (auto s = ParseMerges(model["merges"], source, config); !s.ok()) return s;
  }
  config.byte_fallback = model.value("byte_fallback", false);
  config.fuse_unk = model.value("fuse_unk", false);
  config.ignore_merges = model.value("ignore_merges", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const std::string unk = model["unk_token"].get<std::string>();
    for (size_t i = 0; i < config.tokens.size(); ++i) {
      if (config.tokens[i] == unk) config.unk_id = static_cast<int32_t>(i);
    }
    if (!config.unk_id) return Bad(source, absl::StrCat("model.unk_token \"", unk, "\" is not in the vocabulary"));
  }
  return config;
}

absl::StatusOr<std::vector<AddedToken>> ParseAddedTokens(const json& j, absl::string_view source,
                                                         int64_t id_limit) {
  std::vector<AddedToken> tokens;
  if (j.is_null()) return tokens;
  if (!j.is_array()) return Bad(source, "added_tokens is not an array");
  for (size_t i = 0; i < j.size(); ++i) {
    const json& t = j[i];
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
        !t.contains("content") || !t["content"].is_string()) {
      return Bad(source, absl::StrCat("added_tokens[", i, "] needs an integer \"id\" and a string \"content\""));
    }
    AddedToken a;
    absl::StatusOr<int32_t> id = ParseHfTokenId(t["id"], absl::StrCat("added_tokens[", i, "].id"),
                                                id_limit);
    if (!id.ok()) return Prefixed(source, id.status());
    a.id = *id;
    a.content = t["content"].get<std::string>();
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    a.single_word = t.value("single_word", false);
    a.normalized = t.value("normalized", !a.special);
    tokens.push_back(std::move(a));
  }
  return tokens;
}

// Ids in real tokenizer.json files are dense or nearly so (a vocabulary may be
// padded, or added tokens may sit past a gap). Bounding ids by twice the
// input's own entry count plus 4096 allows such gaps while keeping a tiny
// file from allocating a 2^24-entry vocabulary.
int64_t IdLimit(const json& j) {
  int64_t n = 0;
  if (j.contains("model") && j["model"].is_object() && j["model"].contains("vocab")) {
    n += static_cast<int64_t>(j["model"]["vocab"].size());
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    n += static_cast<int64_t>(j["added_tokens"].size());
  }
  return std::min(2 * n + 4096, kMaxHfTokenId);
}

std::optional<int32_t> IdOf(const BpeModel& model, const std::vector<AddedToken>& added,
                            const std::string& text) {
  for (const AddedToken& t : added) {
    if (t.content == text) return t.id;
  }
  return model.Find(text);
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> ParseHfTokenizerJson(
    absl::string_view json_text, absl::string_view source, absl::string_view config_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(source, "is not valid JSON");
  if (!j.is_object()) return Bad(source, "top level is not a JSON object");
  json config_json;
  if (!config_text.empty()) {
    config_json = json::parse(config_text, nullptr, false);
    if (config_json.is_discarded()) config_json = json();
  }
  try {
    const int64_t id_limit = IdLimit(j);
    auto model_config = ParseModel(j.value("model", json()), source, id_limit);
    if (!model_config.ok()) return model_config.status();
    auto model = BpeModel::Create(std::move(*model_config), source);
    if (!model.ok()) return model.status();
    BpeTokenizerConfig config;
    config.format = "hf-bpe";
    config.source = std::string(source);
    auto added = ParseAddedTokens(j.value("added_tokens", json()), source, id_limit);
    if (!added.ok()) return added.status();
    config.added_tokens = std::move(*added);
    auto normalizer = ParseHfNormalizer(j.value("normalizer", json()), "normalizer");
    if (!normalizer.ok()) return Prefixed(source, normalizer.status());
    config.normalizer = std::move(*normalizer);
    auto pre = ParseHfPreTokenizer(j.value("pre_tokenizer", json()), "pre_tokenizer");
    if (!pre.ok()) return Prefixed(source, pre.status());
    config.pre_tokenizer = std::move(*pre);
    auto post = ParseHfPostProcessor(j.value("post_processor", json()), "post_processor");
    if (!post.ok()) return Prefixed(source, post.status());
    config.prefix_ids = post->prefix;
    config.suffix_ids = post->suffix;
    auto decoder = ParseHfDecoder(j.value("decoder", json()), "decoder");
    if (!decoder.ok()) return Prefixed(source, decoder.status());
    config.decoder = *decoder;
    if (!config.prefix_ids.empty()) config.bos_id = config.prefix_ids.front();
    if (auto bos = ConfigSpecialToken(config_json, "bos_token")) config.bos_id = IdOf(*model, config.added_tokens, *bos);
    if (auto eos = ConfigSpecialToken(config_json, "eos_token")) config.eos_id = IdOf(*model, config.added_tokens, *eos);
    return BpeTokenizer::Create(std::move(*model), std::move(config));
  } catch (const json::exception& e) {
    return Bad(source, e.what());
  }
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadHfTokenizerJson(const std::string& path) {
  auto read = [](const std::string& p, std::string& out) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
  };
  std::string text;
  if (!read(path, text)) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  std::string config_text;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  read(dir + "/tokenizer_config.json", config_text);
  return ParseHfTokenizerJson(text, path, config_text);
}

}  // namespace tandem::tokenizer
