// Writes the seed corpora of tests/fuzz/ with tandem's own writers (tiny
// models from tools/make_tiny_model, GgufWriter, WriteSafetensors, and
// GenerateRequests built from text protos), a few small files per target:
//   bazel run //tests/fuzz:make_seed_corpus -- $PWD/tests/fuzz/corpus
// Deterministic: re-running it rewrites the same bytes. Files it does not
// write (crash reproducers, regress-*) are left alone.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "model/formats/gguf_types.h"
#include "model/formats/gguf_writer.h"
#include "model/formats/safetensors_writer.h"
#include "nlohmann/json.hpp"
#include "proto/tandem/v1/generation_service.pb.h"
#include "tools/make_tiny_model/tiny_model.h"
#include "tools/make_tiny_model/tiny_vocab.h"

namespace tandem::fuzz {
namespace {

using model::formats::DType;
using model::formats::EncodeFloats;
using model::formats::GgmlType;
using model::formats::GgufWriter;
using model::formats::SafetensorsEntry;

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir));
  }
  return absl::OkStatus();
}

absl::Status WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("cannot write ", path));
  std::printf("%8zu  %s\n", bytes.size(), path.c_str());
  return absl::OkStatus();
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", from));
  return WriteBytes(to, std::string(std::istreambuf_iterator<char>(in), {}));
}

std::vector<float> Ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 17) * 0.25f - 2.0f;
  return v;
}

// The smallest models MakeTinyModel accepts (vocabularies of 259 / 257 tokens).
tools::TinyModelOptions TinyOptions(model::Architecture arch) {
  tools::TinyModelOptions o;
  o.architecture = arch;
  o.vocab_size = arch == model::Architecture::kGpt2 ? 257 : 259;
  o.hidden_size = 32;
  o.intermediate_size = 32;
  o.num_layers = 1;
  o.num_heads = 2;
  o.num_kv_heads = 1;
  o.context_length = 32;
  return o;
}

absl::Status WriteSafetensorsSeeds(const std::string& dir, const std::string& scratch) {
  if (absl::Status s = MakeDir(dir); !s.ok()) return s;
  std::vector<SafetensorsEntry> mixed = {
      {"a.f32", DType::kF32, {2, 3}, EncodeFloats(Ramp(6), DType::kF32)},
      {"b.f16", DType::kF16, {4}, EncodeFloats(Ramp(4), DType::kF16)},
      {"c.bf16", DType::kBF16, {1, 2, 2}, EncodeFloats(Ramp(4), DType::kBF16)},
      {"scalar", DType::kF32, {}, EncodeFloats({1.5f}, DType::kF32)},
      {"empty", DType::kF16, {0, 3}, {}}};
  if (absl::Status s = model::formats::WriteSafetensors(dir + "/mixed_dtypes.safetensors", mixed,
                                                        {{"format", "pt"}, {"note", "seed"}});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = model::formats::WriteSafetensors(dir + "/no_tensors.safetensors", {});
      !s.ok()) {
    return s;
  }
  tools::TinyModelOptions o = TinyOptions(model::Architecture::kLlama);
  o.hidden_size = 8;
  o.intermediate_size = 16;
  absl::StatusOr<tools::TinyModel> tiny = tools::MakeTinyModel(o);
  if (!tiny.ok()) return tiny.status();
  if (absl::Status s = tools::WriteTinyHfDir(*tiny, DType::kBF16, 1, scratch); !s.ok()) return s;
  return CopyFile(scratch + "/model.safetensors", dir + "/tiny_llama_bf16.safetensors");
}

absl::Status WriteGgufSeeds(const std::string& dir, const std::string& scratch) {
  if (absl::Status s = MakeDir(dir); !s.ok()) return s;
  struct Tiny {
    model::Architecture arch;
    GgmlType type;
    const char* name;
  };
  for (const Tiny& t : {Tiny{model::Architecture::kLlama, GgmlType::kQ8_0, "tiny_llama_q8_0.gguf"},
                        Tiny{model::Architecture::kGpt2, GgmlType::kQ4_1, "tiny_gpt2_q4_1.gguf"}}) {
    absl::StatusOr<tools::TinyModel> tiny = tools::MakeTinyModel(TinyOptions(t.arch));
    if (!tiny.ok()) return tiny.status();
    const std::string path = scratch + "/" + t.name;
    if (absl::Status s = tools::WriteTinyGguf(*tiny, t.type, path); !s.ok()) return s;
    if (absl::Status s = CopyFile(path, dir + "/" + t.name); !s.ok()) return s;
  }
  // Every metadata type and the other tensor types, without a model.
  GgufWriter w;
  w.SetUint32("general.alignment", 64);
  w.SetString("general.architecture", "llama");
  w.SetInt32("tandem.int32", -7);
  w.SetUint64("tandem.uint64", 1ull << 40);
  w.SetFloat32("tandem.float32", 0.5f);
  w.SetBool("tandem.bool", true);
  w.SetStringArray("tandem.strings", {"a", "", "\xE2\x96\x81"});
  w.SetInt32Array("tandem.int32s", {1, -2, 3});
  w.SetFloat32Array("tandem.floats", {0.25f, -1.0f});
  for (const auto& [name, type] : {std::pair{"t.f32", GgmlType::kF32},
                                   std::pair{"t.f16", GgmlType::kF16},
                                   std::pair{"t.bf16", GgmlType::kBF16},
                                   std::pair{"t.q4_0", GgmlType::kQ4_0},
                                   std::pair{"t.q4_1", GgmlType::kQ4_1},
                                   std::pair{"t.q8_0", GgmlType::kQ8_0}}) {
    if (absl::Status s = w.AddTensor(name, {2, 32}, type, Ramp(64)); !s.ok()) return s;
  }
  return WriteBytes(dir + "/metadata_types.gguf", w.Serialize());
}

// tokenizer.json of the tiny GPT-2 vocabulary: byte-level BPE with merges.
nlohmann::json Gpt2TokenizerJson() {
  const tools::TinyVocab v = *tools::MakeSyntheticVocab(model::Architecture::kGpt2, 300);
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i + 1 < v.tokens.size(); ++i) vocab[v.tokens[i]] = i;
  const int64_t eot = static_cast<int64_t>(v.tokens.size()) - 1;
  return {{"added_tokens",
           {{{"id", eot}, {"content", v.tokens.back()}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"post_processor", {{"type", "ByteLevel"}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", v.merges}}}};
}

// SentencePiece-style (Llama 2 layout) with byte fallback and a template.
nlohmann::json SentencePieceTokenizerJson() {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int id = 259;
  for (const char* p : {"\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "\xE2\x96\x81hi"}) vocab[p] = id++;
  return {{"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single",
             {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"byte_fallback", true},
            {"fuse_unk", true},
            {"vocab", vocab},
            {"merges", {"\xE2\x96\x81 h", {"\xE2\x96\x81h", "i"}}}}}};
}

// The remaining pipeline types: NFKC, Lowercase, Split, Digits, Metaspace,
// Roberta post-processing, added tokens with lstrip/rstrip/single_word.
nlohmann::json PipelineTokenizerJson() {
  nlohmann::json vocab = {{"<pad>", 0}, {"<cls>", 1}, {"<sep>", 2}, {"\xE2\x96\x81", 3},
                          {"a", 4},     {"b", 5},     {"1", 6},     {"\xE2\x96\x81" "a", 7},
                          {"ab", 8}};
  return {{"added_tokens",
           {{{"id", 1}, {"content", "<cls>"}, {"special", true}},
            {{"id", 2}, {"content", "<sep>"}, {"special", true}},
            {{"id", 9}, {"content", "[x]"}, {"special", false}, {"lstrip", true},
             {"rstrip", true}, {"single_word", true}}}},
          {"normalizer",
           {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}, {{"type", "Lowercase"}}}}}},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Removed"}},
              {{"type", "Digits"}, {"individual_digits", true}},
              {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"},
               {"prepend_scheme", "first"}}}}}},
          {"post_processor", {{"type", "RobertaProcessing"}, {"cls", {"<cls>", 1}},
                              {"sep", {"<sep>", 2}}}},
          {"decoder", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}}},
          {"model",
           {{"type", "BPE"},
            {"vocab", vocab},
            {"ignore_merges", true},
            {"merges", {"\xE2\x96\x81 a", "a b"}}}}};
}

absl::Status WriteTokenizerSeeds(const std::string& dir) {
  if (absl::Status s = MakeDir(dir); !s.ok()) return s;
  const std::pair<const char*, nlohmann::json> seeds[] = {
      {"gpt2_byte_level.json", Gpt2TokenizerJson()},
      {"llama2_sentencepiece.json", SentencePieceTokenizerJson()},
      {"pipeline_types.json", PipelineTokenizerJson()}};
  for (const auto& [name, j] : seeds) {
    if (absl::Status s = WriteBytes(dir + "/" + name, j.dump()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// GenerateRequests covering each field group (text protos of tandem.v1).
absl::Status WriteValidationSeeds(const std::string& dir) {
  if (absl::Status s = MakeDir(dir); !s.ok()) return s;
  const std::pair<const char*, const char*> seeds[] = {
      {"text_sampling.pb",
       R"(request_id: "seed-1" prompts { text: "the theme" }
          config { num_return_sequences: 2
                   sampling { preset: SAMPLING_PRESET_CREATIVE temperature: 0.8 top_k: 40
                              top_p: 0.9 min_p: 0.05 typical_p: 0.95 repetition_penalty: 1.1
                              presence_penalty: 0.5 frequency_penalty: -0.5
                              no_repeat_ngram_size: 3 banned_token_ids: 5
                              logit_bias { token_id: 7 bias: -3 } seed: 42 }
                   stopping { max_new_tokens: 32 min_new_tokens: 2 stop_strings: "\n\n"
                              max_time { seconds: 5 } }
                   output { logprobs: true top_logprobs: 3 include_speculation_stats: true } })"},
      {"token_ids_beam.pb",
       R"(prompts { token_ids { ids: [1, 260, 261, 262] } }
          prompts { token_ids { ids: [1, 3, 4] } }
          config { num_return_sequences: 2
                   beam_search { num_beams: 4 length_penalty: 0.8
                                 early_stopping: EARLY_STOPPING_NEVER }
                   stopping { max_length: 20 eos_token_ids: [2] } })"},
      {"speculation_adaptive.pb",
       R"(prompts { text: "t h e" }
          config { sampling { preset: SAMPLING_PRESET_DETERMINISTIC }
                   speculation { mode: SPECULATION_MODE_DRAFT_MODEL
                                 adaptive { max_draft_length: 6 initial_draft_length: 3 } }
                   stopping { ignore_eos: true max_new_tokens: 64 } })"},
      {"speculation_self.pb",
       R"(prompts { text: "x" }
          config { speculation { mode: SPECULATION_MODE_SELF_SPECULATIVE fixed_draft_length: 2
                                 self_speculative { exit_layer: 1 } } })"},
      {"speculation_ngram.pb",
       R"(prompts { text: "the the the" }
          config { speculation { mode: SPECULATION_MODE_NGRAM
                                 ngram { min_ngram_size: 2 max_ngram_size: 4 } } })"}};
  for (const auto& [name, text] : seeds) {
    v1::GenerateRequest request;
    if (!google::protobuf::TextFormat::ParseFromString(text, &request)) {
      return absl::InvalidArgumentError(absl::StrCat("bad text proto for ", name));
    }
    if (absl::Status s = WriteBytes(dir + "/" + name, request.SerializeAsString()); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tandem::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus OUT_DIR (e.g. $PWD/tests/fuzz/corpus)\n");
    return 2;
  }
  const std::string out = argv[1];
  char scratch_template[] = "/tmp/tandem_seed_XXXXXX";
  const char* scratch = mkdtemp(scratch_template);
  absl::Status s = scratch == nullptr ? absl::InternalError("mkdtemp") : absl::OkStatus();
  if (s.ok()) s = tandem::fuzz::MakeDir(out);
  if (s.ok()) s = tandem::fuzz::WriteSafetensorsSeeds(out + "/safetensors", scratch);
  if (s.ok()) s = tandem::fuzz::WriteGgufSeeds(out + "/gguf", scratch);
  if (s.ok()) s = tandem::fuzz::WriteTokenizerSeeds(out + "/tokenizer_json");
  if (s.ok()) s = tandem::fuzz::WriteValidationSeeds(out + "/validation");
  if (scratch != nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "make_seed_corpus: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
