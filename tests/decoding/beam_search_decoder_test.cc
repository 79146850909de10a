#include "decoding/beam_search_decoder.h"

#include <cmath>
#include <map>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/testing/fake_model.h"

namespace tandem::decoding {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kEos = 2;

std::vector<float> Log(std::vector<double> p) {
  std::vector<float> out;
  for (double x : p) out.push_back(static_cast<float>(std::log(x)));
  return out;
}

// Vocabulary {0, 1, EOS=2, 3}; prompt [3]. After [3]: 0 .5, 1 .4, EOS .1.
// After [3,0]: 0 .42, 1 .33, EOS .25. After [3,1]: EOS .9, 0 .05, 1 .05.
// Greedy says [0, 0] (p .21); two beams with length penalty 1 find [1, EOS]
// (p .36, score log(.36)/2 = -0.511) ahead of [0, 0] (log(.21)/2 = -0.780).
std::unique_ptr<model::testing::FakeModel> Model() {
  return model::testing::FakeModel::FromTable(
      4,
      {{{3}, Log({0.5, 0.4, 0.1, 1e-9})},
       {{3, 0}, Log({0.42, 0.33, 0.25, 1e-9})},
       {{3, 1}, Log({0.05, 0.05, 0.9, 1e-9})}},
      Log({0.25, 0.25, 0.25, 0.25}));
}

BeamSearchRequest Request() {
  BeamSearchRequest r;
  r.prompt = {3};
  r.options.num_beams = 2;
  r.options.num_return_sequences = 2;
  r.options.eos_token_ids = {kEos};
  r.options.max_new_tokens = 2;
  return r;
}

TEST(BeamSearchDecoderTest, FindsTheHandComputedBestSequence) {
  auto model = Model();
  model::SequenceId next = 1;
  auto result = RunBeamSearch(*model, Request(), [&] { return next++; });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 2u);
  EXPECT_THAT((*result)[0].tokens, ElementsAre(1, kEos));
  EXPECT_NEAR((*result)[0].score, std::log(0.36) / 2, 1e-5);
  EXPECT_THAT((*result)[1].tokens, ElementsAre(0, 0));
  EXPECT_NEAR((*result)[1].score, std::log(0.21) / 2, 1e-5);
  EXPECT_EQ(model->num_sequences(), 0) << "every sequence is released";
}

TEST(BeamSearchDecoderTest, OneBeamIsGreedy) {
  auto model = Model();
  BeamSearchRequest r = Request();
  r.options.num_beams = 1;
  r.options.num_return_sequences = 1;
  model::SequenceId next = 1;
  auto result = RunBeamSearch(*model, r, [&] { return next++; });
  ASSERT_TRUE(result.ok());
  EXPECT_THAT((*result)[0].tokens, ElementsAre(0, 0));
}

TEST(BeamSearchDecoderTest, PenaltiesApplyPerBeam) {
  auto model = Model();
  BeamSearchRequest r = Request();
  r.params.banned_token_ids = {1};
  model::SequenceId next = 1;
  auto result = RunBeamSearch(*model, r, [&] { return next++; });
  ASSERT_TRUE(result.ok());
  for (const auto& h : *result) {
    for (int64_t t : h.tokens) EXPECT_NE(t, 1);
  }
}

TEST(BeamSearchDecoderTest, RejectsBadRequestsAndReleasesOnError) {
  auto model = Model();
  model::SequenceId next = 1;
  BeamSearchRequest r = Request();
  r.prompt = {};
  EXPECT_EQ(RunBeamSearch(*model, r, [&] { return next++; }).status().code(),
            absl::StatusCode::kInvalidArgument);
  r = Request();
  r.prompt = {9};  // outside the vocabulary
  EXPECT_FALSE(RunBeamSearch(*model, r, [&] { return next++; }).ok());
  EXPECT_EQ(model->num_sequences(), 0);
}

}  // namespace
}  // namespace tandem::decoding
