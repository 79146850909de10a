#include "tokenizer/stream_decoder.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {
namespace {

// SentencePiece-style vocabulary whose only way to spell emoji and CJK is
// byte fallback: every multi-byte character is split across tokens.
std::string Vocabulary() {
  std::string vocab = R"("<unk>": 0, "<s>": 1, "▁": 2, "h": 3, "i": 4, "▁hi": 5)";
  for (int b = 0; b < 256; ++b) {
    char buf[32];
    snprintf(buf, sizeof(buf), ", \"<0x%02X>\": %d", b, 6 + b);
    vocab += buf;
  }
  vocab += R"(, "▁h": 262)";
  return R"({"added_tokens": [{"id": 1, "content": "<s>", "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "vocab": {)" +
         vocab + R"(}, "merges": ["▁ h", "▁h i"]}})";
}

TEST(StreamDecoderTest, HoldsBackSplitCharactersAndMatchesDecode) {
  auto tok = ParseHfTokenizerJson(Vocabulary(), "stream.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  // Emoji with ZWJ sequence, CJK, an accented letter.
  const std::string text =
      "hi \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xE4\xBD\xA0\xE5\xA5\xBD h\xC3\xA9";
  auto ids = (*tok)->Encode(text);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ids->insert(ids->begin(), 1);  // a BOS, skipped by both paths
  StreamDecoder stream(**tok);
  std::string streamed;
  int empty_deltas = 0;
  for (int32_t id : *ids) {
    auto delta = stream.Push(id);
    ASSERT_TRUE(delta.ok()) << delta.status();
    EXPECT_TRUE(IsValidUtf8(*delta)) << "token " << id;
    empty_deltas += delta->empty();
    streamed += *delta;
  }
  streamed += stream.Flush();
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(streamed, *(*tok)->Decode(*ids));
  EXPECT_GT(empty_deltas, 5);  // the first bytes of each character waited
}

TEST(StreamDecoderTest, FlushTurnsDanglingBytesIntoReplacementCharacter) {
  auto tok = ParseHfTokenizerJson(Vocabulary(), "stream.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  StreamDecoder stream(**tok);
  EXPECT_EQ(*stream.Push(6 + 0xE4), "");  // first byte of 你
  EXPECT_EQ(*stream.Push(6 + 0xBD), "");
  EXPECT_EQ(*stream.Push(6 + 'a'), "\xEF\xBF\xBD" "a");  // cannot complete any more
  EXPECT_EQ(*stream.Push(6 + 0xF0), "");
  EXPECT_EQ(stream.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.Push(-1).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(StreamDecoderTest, DropsOnlyTheFirstLeadingSpace) {
  auto tok = ParseHfTokenizerJson(Vocabulary(), "stream.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  StreamDecoder stream(**tok);
  EXPECT_EQ(*stream.Push(1), "");  // BOS skipped
  EXPECT_EQ(*stream.Push(5), "hi");
  EXPECT_EQ(*stream.Push(5), " hi");
}

}  // namespace
}  // namespace tandem::tokenizer
