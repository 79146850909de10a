#include "tokenizer/gguf_tokenizer.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tokenizer/gguf_vocab.h"

namespace tandem::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Writes GGUF v3 metadata by hand (no tensors).
class GgufWriter {
 public:
  template <typename T>
  void Raw(T v) { bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void Str(const std::string& s) { Raw<uint64_t>(s.size()); bytes_ += s; }
  void Key(const std::string& k, GgufType t) { Str(k); Raw<uint32_t>(static_cast<uint32_t>(t)); ++count_; }
  void String(const std::string& k, const std::string& v) { Key(k, GgufType::kString); Str(v); }
  void U32(const std::string& k, uint32_t v) { Key(k, GgufType::kUint32); Raw(v); }
  void Strings(const std::string& k, const std::vector<std::string>& v) {
    Key(k, GgufType::kArray);
    Raw<uint32_t>(static_cast<uint32_t>(GgufType::kString));
    Raw<uint64_t>(v.size());
    for (const auto& s : v) Str(s);
  }
  template <typename T>
  void Numbers(const std::string& k, GgufType t, const std::vector<T>& v) {
    Key(k, GgufType::kArray);
    Raw<uint32_t>(static_cast<uint32_t>(t));
    Raw<uint64_t>(v.size());
    for (T x : v) Raw(x);
  }
  std::string Finish() const {
    std::string out = "GGUF";
    auto raw = [&out](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    raw(uint32_t{3});
    raw(uint64_t{0});
    raw(uint64_t{count_});
    return out + bytes_;
  }

 private:
  std::string bytes_;
  uint64_t count_ = 0;
};

// A Llama-style (SentencePiece BPE) vocabulary: scores decide merges.
std::string SpmFile() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);
  }
  for (const char* t : {"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab"}) {
    tokens.push_back(t);
    types.push_back(1);
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  scores[259 + 3] = -1.0f;  // ▁a
  scores[259 + 4] = -0.5f;  // ab: merges before ▁a
  scores[259 + 5] = -2.0f;  // ▁ab
  GgufWriter w;
  w.String("general.architecture", "llama");
  w.String("tokenizer.ggml.model", "llama");
  w.Strings("tokenizer.ggml.tokens", tokens);
  w.Numbers("tokenizer.ggml.scores", GgufType::kFloat32, scores);
  w.Numbers("tokenizer.ggml.token_type", GgufType::kInt32, types);
  w.U32("tokenizer.ggml.bos_token_id", 1);
  w.U32("tokenizer.ggml.eos_token_id", 2);
  w.U32("tokenizer.ggml.unknown_token_id", 0);
  return w.Finish();
}

TEST(GgufVocabTest, ReadsAllValueKinds) {
  auto meta = ParseGgufMetadata(SpmFile(), "mem.gguf");
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->version, 3u);
  EXPECT_EQ(meta->Find("general.architecture")->text, "llama");
  EXPECT_EQ(meta->Find("tokenizer.ggml.tokens")->strings.size(), 265u);
  EXPECT_FLOAT_EQ(meta->Find("tokenizer.ggml.scores")->numbers[263], -0.5f);
  EXPECT_EQ(meta->Find("tokenizer.ggml.bos_token_id")->number, 1);
}

TEST(GgufVocabTest, EveryTruncationIsAnErrorNotACrash) {
  const std::string file = SpmFile();
  for (size_t n = 0; n < file.size(); n += (n < 64 ? 1 : 7)) {
    auto meta = ParseGgufMetadata(absl::string_view(file).substr(0, n), "cut.gguf");
    ASSERT_FALSE(meta.ok()) << n;
    EXPECT_THAT(std::string(meta.status().message()), HasSubstr("cut.gguf")) << n;
  }
}

TEST(GgufVocabTest, RejectsHugeLengthsBeforeAllocating) {
  GgufWriter w;
  w.Key("tokenizer.ggml.tokens", GgufType::kArray);
  w.Raw<uint32_t>(static_cast<uint32_t>(GgufType::kString));
  w.Raw<uint64_t>(uint64_t{1} << 60);
  auto meta = ParseGgufMetadata(w.Finish(), "huge.gguf");
  ASSERT_FALSE(meta.ok());
  EXPECT_THAT(std::string(meta.status().message()), HasSubstr("tokenizer.ggml.tokens: array of"));
  EXPECT_FALSE(ParseGgufMetadata("GGML....", "x").ok());
}

TEST(GgufTokenizerTest, SentencePieceMergesByScoreWithByteFallback) {
  auto meta = ParseGgufMetadata(SpmFile(), "mem.gguf");
  ASSERT_TRUE(meta.ok());
  auto tok = TokenizerFromGguf(*meta, "mem.gguf");
  ASSERT_TRUE(tok.ok()) << tok.status();
  // "▁ab": ab (-0.5) merges first, then ▁+ab (-2.0) — not ▁a (-1.0) + b.
  auto ids = (*tok)->Encode("ab");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(1, 264));
  // 'c' is not a token: its byte token <0x63>.
  EncodeOptions no_bos;
  no_bos.add_special_tokens = false;
  EXPECT_THAT(*(*tok)->Encode("c", no_bos), ElementsAre(259, 3 + 0x63));
  EXPECT_EQ(*(*tok)->Decode({1, 264, 259, 3 + 0x63}), "ab c");
  EXPECT_EQ((*tok)->eos_id(), 2);
}

TEST(GgufTokenizerTest, MissingKeysAreNamed) {
  GgufWriter w;
  w.String("tokenizer.ggml.model", "gpt2");
  w.Strings("tokenizer.ggml.tokens", {"a", "b"});
  auto meta = ParseGgufMetadata(w.Finish(), "nomerges.gguf");
  ASSERT_TRUE(meta.ok());
  auto tok = TokenizerFromGguf(*meta, "nomerges.gguf");
  ASSERT_FALSE(tok.ok());
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("nomerges.gguf: tokenizer.ggml.merges"));
}

}  // namespace
}  // namespace tandem::tokenizer
