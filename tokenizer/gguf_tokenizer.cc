#include "tokenizer/gguf_tokenizer.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

constexpr char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kGpt2NoFallback[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct PreType {
  std::vector<std::string> patterns;
  bool ignore_merges = false;
  bool add_bos = false;
};

absl::StatusOr<PreType> PreTypeFor(const std::string& pre, const std::string& source) {
  static const std::set<std::string> kGpt2 = {"gpt-2", "phi-2", "mpt", "olmo", "jina-es",
                                              "jina-de", "jina-v2-es", "jina-v2-de", "roberta-bpe"};
  static const std::set<std::string> kLlama3 = {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"};
  static const std::set<std::string> kQwen2 = {"qwen2", "deepseek-r1-qwen", "stablelm2"};
  static const std::set<std::string> kStarcoder = {"starcoder", "refact", "command-r", "smollm",
                                                   "codeshell", "exaone", "minerva"};
  if (kGpt2.count(pre)) return PreType{{std::string(kGpt2Pattern)}};
  if (kLlama3.count(pre)) return PreType{{kLlama3Pattern}, true, true};
  if (pre == "smaug-bpe" || pre == "dbrx") return PreType{{kLlama3Pattern}};
  if (kQwen2.count(pre)) return PreType{{kQwen2Pattern}};
  if (kStarcoder.count(pre)) return PreType{{R"(\p{N})", kGpt2NoFallback}};
  if (pre == "falcon") {
    return PreType{{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2NoFallback, "[0-9][0-9][0-9]"}};
  }
  if (pre == "default" || pre.empty()) {
    return PreType{{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2NoFallback, R"(\p{N}+)", "[0-9][0-9][0-9]"}};
  }
  return absl::UnimplementedError(
      absl::StrCat(source, ": tokenizer.ggml.pre \"", pre, "\" is not supported"));
}

std::optional<int32_t> OptionalId(const GgufMetadata& meta, const char* key) {
  const GgufValue* v = meta.Find(key);
  if (v == nullptr || v->type == GgufType::kString || v->type == GgufType::kArray) return std::nullopt;
  if (v->number < 0 || v->number > 1e9) return std::nullopt;
  return static_cast<int32_t>(v->number);
}

bool BoolOr(const GgufMetadata& meta, const char* key, bool fallback) {
  const GgufValue* v = meta.Find(key);
  return v == nullptr || v->type != GgufType::kBool ? fallback : v->number != 0;
}

absl::Status Bad(const std::string& source, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> TokenizerFromGguf(const GgufMetadata& meta,
                                                                const std::string& source) {
  const GgufValue* model_kv = meta.Find("tokenizer.ggml.model");
  if (model_kv == nullptr || model_kv->type != GgufType::kString) {
    return Bad(source, "tokenizer.ggml.model is missing or not a string");
  }
  const std::string& model_name = model_kv->text;
  if (model_name != "gpt2" && model_name != "llama") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": tokenizer.ggml.model \"", model_name, "\" is not supported (gpt2, llama)"));
  }
  const bool spm = model_name == "llama";
  const GgufValue* tokens = meta.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->array_type != GgufType::kString || tokens->strings.empty()) {
    return Bad(source, "tokenizer.ggml.tokens is missing or not an array of strings");
  }
  const size_t n = tokens->strings.size();
  const GgufValue* types = meta.Find("tokenizer.ggml.token_type");
  if (types != nullptr && types->numbers.size() != n) {
    return Bad(source, absl::StrCat("tokenizer.ggml.token_type has ", types->numbers.size(),
                                    " entries for ", n, " tokens"));
  }
  BpeModelConfig mc;
  mc.tokens = tokens->strings;
  BpeTokenizerConfig config;
  config.source = source;
  config.format = spm ? "gguf-llama" : "gguf-gpt2";
  for (size_t id = 0; id < n; ++id) {
    const int type = types ? static_cast<int>(types->numbers[id]) : kNormal;
    if (type != kControl && type != kUnknown && type != kUserDefined) continue;
    if (mc.tokens[id].empty()) continue;
    AddedToken t;
    t.id = static_cast<int32_t>(id);
    t.content = mc.tokens[id];
    t.special = type != kUserDefined;
    config.added_tokens.push_back(std::move(t));
  }
  config.bos_id = OptionalId(meta, "tokenizer.ggml.bos_token_id");
  config.eos_id = OptionalId(meta, "tokenizer.ggml.eos_token_id");
  bool add_bos = spm;
  if (spm) {
    const GgufValue* scores = meta.Find("tokenizer.ggml.scores");
    if (scores == nullptr || scores->numbers.size() != n) {
      return Bad(source, "tokenizer.ggml.scores is missing or does not have one score per token");
    }
    mc.scores.assign(scores->numbers.begin(), scores->numbers.end());
    mc.byte_fallback = true;
    mc.unk_id = OptionalId(meta, "tokenizer.ggml.unknown_token_id");
    const bool prefix = BoolOr(meta, "tokenizer.ggml.add_space_prefix", true);
    std::vector<NormalizerStep> steps = {{NormalizerStep::Kind::kReplace, " ", "\xE2\x96\x81"}};
    if (prefix) steps.push_back({NormalizerStep::Kind::kPrepend, "\xE2\x96\x81", ""});
    config.normalizer = Normalizer(std::move(steps));
    config.decoder = {false, "\xE2\x96\x81", " ", true, prefix};
  } else {
    const GgufValue* merges = meta.Find("tokenizer.ggml.merges");
    if (merges == nullptr || merges->array_type != GgufType::kString) {
      return Bad(source, "tokenizer.ggml.merges is missing or not an array of strings");
    }
    for (size_t i = 0; i < merges->strings.size(); ++i) {
      const std::string& m = merges->strings[i];
      const size_t space = m.find(' ', 1);
      if (space == std::string::npos) {
        return Bad(source, absl::StrCat("tokenizer.ggml.merges[", i, "] \"", m, "\" is not \"a b\""));
      }
      mc.merges.emplace_back(m.substr(0, space), m.substr(space + 1));
    }
    const GgufValue* pre = meta.Find("tokenizer.ggml.pre");
    auto pre_type = PreTypeFor(pre && pre->type == GgufType::kString ? pre->text : "", source);
    if (!pre_type.ok()) return pre_type.status();
    mc.ignore_merges = pre_type->ignore_merges;
    add_bos = pre_type->add_bos;
    auto pre_tokenizer = PreTokenizer::ByteLevelWithPatterns(pre_type->patterns);
    if (!pre_tokenizer.ok()) return pre_tokenizer.status();
    config.pre_tokenizer = std::move(*pre_tokenizer);
    config.decoder.byte_level = true;
  }
  if (BoolOr(meta, "tokenizer.ggml.add_bos_token", add_bos) && config.bos_id) {
    config.prefix_ids.push_back(*config.bos_id);
  }
  if (BoolOr(meta, "tokenizer.ggml.add_eos_token", false) && config.eos_id) {
    config.suffix_ids.push_back(*config.eos_id);
  }
  auto model = BpeModel::Create(std::move(mc), source);
  if (!model.ok()) return model.status();
  return BpeTokenizer::Create(std::move(*model), std::move(config));
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadGgufTokenizer(const std::string& path) {
  auto meta = ReadGgufMetadata(path);
  if (!meta.ok()) return meta.status();
  return TokenizerFromGguf(*meta, path);
}

}  // namespace tandem::tokenizer
