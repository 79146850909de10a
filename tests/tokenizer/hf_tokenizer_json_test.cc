#include "tokenizer/hf_tokenizer_json.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tandem::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Byte-level BPE over "a", "b", "c": merges make "ab" before "bc".
constexpr char kByteLevel[] = R"({
  "added_tokens": [
    {"id": 7, "content": "<|end|>", "special": true, "normalized": false},
    {"id": 8, "content": "foo", "special": false, "normalized": false, "lstrip": true}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": {"type": "ByteLevel"},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "bc": 5, "Ġa": 6},
            "merges": ["a b", ["b", "c"], "Ġ a"]}
})";

// SentencePiece-style BPE with byte fallback (Llama 2 layout).
constexpr char kSentencePiece[] = R"({
  "added_tokens": [{"id": 0, "content": "<unk>", "special": true},
                   {"id": 1, "content": "<s>", "special": true, "normalized": false}],
  "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
            "vocab": {"<unk>": 0, "<s>": 1, "<0xF0>": 2, "<0x9F>": 3, "<0xA6>": 4, "<0x99>": 5,
                      "▁": 6, "h": 7, "i": 8, "▁h": 9, "▁hi": 10},
            "merges": ["▁ h", "▁h i"]}
})";

std::vector<int32_t> Ids(const Tokenizer& t, const std::string& s, bool specials = false) {
  EncodeOptions o;
  o.add_special_tokens = specials;
  auto ids = t.Encode(s, o);
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.ok() ? *ids : std::vector<int32_t>{};
}

TEST(HfTokenizerJsonTest, AppliesMergesInRankOrder) {
  auto tok = ParseHfTokenizerJson(kByteLevel, "test.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_THAT(Ids(**tok, "abc"), ElementsAre(4, 2));   // "ab" ranks before "bc"
  EXPECT_THAT(Ids(**tok, "bca"), ElementsAre(5, 0));
  EXPECT_THAT(Ids(**tok, "a a"), ElementsAre(0, 6));   // " a" is one word
}

TEST(HfTokenizerJsonTest, SplitsOnAddedTokensWithLstrip) {
  auto tok = ParseHfTokenizerJson(kByteLevel, "test.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_THAT(Ids(**tok, "a<|end|>b"), ElementsAre(0, 7, 1));
  EXPECT_THAT(Ids(**tok, "a  foo"), ElementsAre(0, 8));  // lstrip eats the spaces
  EncodeOptions plain;
  plain.add_special_tokens = false;
  plain.parse_special = false;
  auto ids = (*tok)->Encode("<|end|>", plain);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ::testing::Not(::testing::Contains(7)));
  EXPECT_TRUE((*tok)->IsSpecial(7));
  EXPECT_FALSE((*tok)->IsSpecial(8));
}

TEST(HfTokenizerJsonTest, ByteFallbackAndTemplateBos) {
  auto tok = ParseHfTokenizerJson(kSentencePiece, "test.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_THAT(Ids(**tok, "hi", true), ElementsAre(1, 10));
  EXPECT_EQ((*tok)->bos_id(), 1);
  // 🦙 (F0 9F A6 99) is not in the vocabulary: four byte tokens.
  const std::vector<int32_t> llama = Ids(**tok, "hi \xF0\x9F\xA6\x99");
  EXPECT_THAT(llama, ElementsAre(10, 6, 2, 3, 4, 5));
  auto text = (*tok)->Decode(llama);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hi \xF0\x9F\xA6\x99");  // leading space stripped
  // No byte token for 'z': unknown, consecutive unknowns fused.
  EXPECT_THAT(Ids(**tok, "zz"), ElementsAre(6, 0));
}

TEST(HfTokenizerJsonTest, DecodeSkipsSpecialTokensOnRequest) {
  auto tok = ParseHfTokenizerJson(kSentencePiece, "test.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  DecodeOptions keep;
  keep.skip_special_tokens = false;
  EXPECT_EQ(*(*tok)->Decode({1, 10}), "hi");
  EXPECT_EQ(*(*tok)->Decode({1, 10}, keep), "<s> hi");
  EXPECT_EQ((*tok)->Decode({99}).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(HfTokenizerJsonTest, MalformedFilesNameTheProblem) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{not json", "test.json: is not valid JSON"},
      {"[]", "top level is not a JSON object"},
      {R"({"model": {"type": "WordPiece", "vocab": {}}})", "model.type \"WordPiece\""},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", "merge #0"},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}}})", "id 0 is used by both"},
      {R"({"model": {"type": "BPE", "vocab": {"a": "x"}}})", "model.vocab[\"a\"]"},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}})", "model.merges[0]"},
      {R"({"model": {"type": "BPE", "vocab": {}}, "pre_tokenizer": {"type": "Sequence",
          "pretokenizers": [{"type": "Whitespace"}]}})", "pre_tokenizer.pretokenizers[0]: unsupported type \"Whitespace\""},
      {R"({"model": {"type": "BPE", "vocab": {}}, "pre_tokenizer": {"type": "Split",
          "pattern": {"Regex": "(unclosed"}}})", "does not compile"},
      {R"({"model": {"type": "BPE", "vocab": {}}, "added_tokens": [{"content": "x"}]})", "added_tokens[0]"},
  };
  for (const Case& c : cases) {
    auto tok = ParseHfTokenizerJson(c.json, "test.json");
    ASSERT_FALSE(tok.ok()) << c.json;
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr(c.message)) << c.json;
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr("test.json"));
  }
}

TEST(HfTokenizerJsonTest, RejectsInvalidUtf8Input) {
  auto tok = ParseHfTokenizerJson(kByteLevel, "test.json");
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->Encode("a\xFF").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HfTokenizerJsonTest, IdentityFingerprintDependsOnVocabulary) {
  auto a = ParseHfTokenizerJson(kByteLevel, "a.json");
  auto b = ParseHfTokenizerJson(kByteLevel, "b.json");
  auto c = ParseHfTokenizerJson(kSentencePiece, "c.json");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ((*a)->identity(), (*b)->identity());
  EXPECT_NE(IdentityFingerprint((*a)->identity()), IdentityFingerprint((*c)->identity()));
  EXPECT_THAT((*a)->identity(), HasSubstr("hf-bpe vocab=9 fp="));
}

// Ids beyond the file's own size: each would have allocated a vocabulary
// of up to 2^31 entries (or overflowed int32) from a few bytes of JSON.
TEST(HfTokenizerJsonTest, RejectsIdsTheFileCannotFill) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model": {"vocab": {"a": 16777216}}})", "model.vocab[\"a\"]: token id 16777216 is not in [0, 4098)"},
      {R"({"model": {"vocab": {"a": 0, "b": 1}}, "added_tokens": [{"id": 5000, "content": "x"}]})",
       "added_tokens[0].id: token id 5000 is not in [0, 4102)"},
      {R"({"model": {"vocab": {"a": 0}}, "added_tokens": [{"id": 2147483647, "content": "x"}]})",
       "added_tokens[0].id: token id 2147483647"},
      {R"({"model": {"vocab": {"a": 4294967296}}})", "model.vocab[\"a\"]: token id 4294967296"},
      {R"({"model": {"vocab": {"a": 0}}, "post_processor": {"type": "BertProcessing",
          "cls": ["a", 1.5], "sep": ["a", 0]}})", "must be an integer, found number"}};
  for (const auto& [json, message] : cases) {
    auto tok = ParseHfTokenizerJson(json, "t.json");
    ASSERT_FALSE(tok.ok()) << json;
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr(message)) << json;
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr("t.json")) << json;
  }
}

// Real files may leave gaps (padded vocabularies, added tokens past a gap):
// those load, with the gap ids unknown.
TEST(HfTokenizerJsonTest, AcceptsIdsWithGaps) {
  auto tok = ParseHfTokenizerJson(
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
          "added_tokens": [{"id": 64, "content": "<pad>", "special": true}]})",
      "t.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_GE((*tok)->vocab_size(), 65);
}

TEST(HfTokenizerJsonTest, StripBoundsMustBeIntegers) {
  auto tok = ParseHfTokenizerJson(R"({"model": {"vocab": {"a": 0}},
      "decoder": {"type": "Strip", "content": " ", "start": 1e300, "stop": 0}})", "t.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr("\"start\" must be an integer"));
}

}  // namespace
}  // namespace tandem::tokenizer
