#include "tokenizer/sentencepiece_tokenizer.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/oracles.h"
#include "tokenizer/load_tokenizer.h"
#include "tokenizer/stream_decoder.h"

namespace tandem::tokenizer {
namespace {

// Trains a tiny BPE model with byte fallback using Debian's spm_train, as the
// demo model's tokenizer.model was made.
std::string TrainModel() {
  const std::string dir = tandem::testing::MakeTempDir("spm");
  {
    std::ofstream corpus(dir + "/corpus.txt");
    for (int i = 0; i < 300; ++i) {
      corpus << "In the beginning God created the heaven and the earth " << i << ".\n"
             << "And the earth was without form, and void; and darkness was upon the deep.\n";
    }
  }
  const std::string cmd = "cd " + dir +
                          " && spm_train --input=corpus.txt --model_prefix=tiny --vocab_size=320"
                          " --model_type=bpe --byte_fallback=true --character_coverage=1.0"
                          " --normalization_rule_name=identity --remove_extra_whitespaces=false"
                          " > train.log 2>&1 && spm_train --input=corpus.txt --model_prefix=nfkc"
                          " --vocab_size=320 --model_type=bpe --byte_fallback=true"
                          " --character_coverage=1.0 >> train.log 2>&1";
  if (std::system(cmd.c_str()) != 0) return "";
  return dir;
}

TEST(SentencePieceTokenizerTest, RoundTripsAndLoadsFromDirectory) {
  const std::string dir = TrainModel();
  ASSERT_FALSE(dir.empty()) << "spm_train failed (is the sentencepiece package installed?)";
  auto tok = LoadTokenizer(dir);  // finds tokenizer.model? no: tiny.model
  EXPECT_FALSE(tok.ok());
  ASSERT_EQ(std::rename((dir + "/tiny.model").c_str(), (dir + "/tokenizer.model").c_str()), 0);
  tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const std::string text = "And the earth was void \xF0\x9F\xA6\x99 \xE4\xBD\xA0!";
  auto ids = (*tok)->Encode(text);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->front(), *(*tok)->bos_id());
  EXPECT_EQ(*(*tok)->Decode(*ids), text);  // byte fallback keeps it lossless
  StreamDecoder stream(**tok);
  std::string streamed;
  for (int32_t id : *ids) streamed += *stream.Push(id);
  EXPECT_EQ(streamed + stream.Flush(), text);
  EXPECT_THAT((*tok)->identity(), ::testing::HasSubstr("vocab=320 fp="));
  // libsentencepiece (the wrapper) and our own .model reader agree.
  auto spm = SentencePieceTokenizer::Load(dir + "/tokenizer.model");
  ASSERT_TRUE(spm.ok()) << spm.status();
  EXPECT_EQ(*(*spm)->Encode(text), *ids);
}

TEST(SentencePieceTokenizerTest, OwnReaderRejectsNormalizersItCannotReproduce) {
  const std::string dir = TrainModel();
  ASSERT_FALSE(dir.empty());
  auto tok = LoadTokenizer(dir + "/nfkc.model");
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(tok.status().message()), ::testing::HasSubstr("nmt_nfkc"));
  // The libsentencepiece wrapper handles it (in processes without libprotobuf).
  EXPECT_TRUE(SentencePieceTokenizer::Load(dir + "/nfkc.model").ok());
}

TEST(SentencePieceTokenizerTest, MissingOrBogusFilesAreErrors) {
  EXPECT_EQ(SentencePieceTokenizer::Load("/nonexistent/x.model").status().code(),
            absl::StatusCode::kNotFound);
  auto bogus = SentencePieceTokenizer::FromSerialized("not a proto", "bogus.model");
  ASSERT_FALSE(bogus.ok());
  EXPECT_THAT(std::string(bogus.status().message()), ::testing::HasSubstr("bogus.model"));
}

}  // namespace
}  // namespace tandem::tokenizer
