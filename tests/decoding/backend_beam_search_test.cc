#include "decoding/backend_beam_search.h"

#include <cmath>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decoding/beam_search_decoder.h"
#include "decoding/engines.h"
#include "decoding/local_backends.h"
#include "model/testing/fake_model.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding {
namespace {

using ::testing::ElementsAre;

std::vector<float> Log(std::vector<double> p) {
  std::vector<float> out;
  for (double x : p) out.push_back(static_cast<float>(std::log(x)));
  return out;
}

// The hand-computed case of beam_search_decoder_test, through engine
// sessions (Score + Fork) instead of model sequences.
TEST(BackendBeamSearchTest, FindsTheHandComputedBestSequence) {
  auto model = model::testing::FakeModel::FromTable(
      4,
      {{{3}, Log({0.5, 0.4, 0.1, 1e-9})},
       {{3, 0}, Log({0.42, 0.33, 0.25, 1e-9})},
       {{3, 1}, Log({0.05, 0.05, 0.9, 1e-9})}},
      Log({0.25, 0.25, 0.25, 0.25}));
  TargetEngine engine(*model, 0);
  LocalTargetBackend target(engine);
  BackendBeamSearchRequest r;
  r.prompt = {3};
  r.options.num_beams = 2;
  r.options.num_return_sequences = 2;
  r.options.eos_token_ids = {2};
  r.options.max_new_tokens = 2;
  auto result = RunBackendBeamSearch(r, target);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 2u);
  EXPECT_THAT((*result)[0].tokens, ElementsAre(1, 2));
  EXPECT_NEAR((*result)[0].score, std::log(0.36) / 2, 1e-5);
  EXPECT_THAT((*result)[1].tokens, ElementsAre(0, 0));
  EXPECT_EQ(engine.num_sessions(), 0);
  EXPECT_EQ(model->num_sequences(), 0);
}

// On a real (random) transformer, the session-based search equals the
// model-level search of decoding/beam_search_decoder.h.
TEST(BackendBeamSearchTest, EqualsModelLevelBeamSearch) {
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  c.max_position_embeddings = 64;
  auto m = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 11), {});
  TargetEngine engine(*m, 0);
  LocalTargetBackend target(engine);
  for (int beams : {2, 4}) {
    BackendBeamSearchRequest r;
    r.prompt = {5, 17, 33};
    r.options.num_beams = beams;
    r.options.num_return_sequences = beams;
    r.options.eos_token_ids = {7};
    r.options.max_new_tokens = 12;
    r.session.params.repetition_penalty = 1.3;
    auto ours = RunBackendBeamSearch(r, target);
    ASSERT_TRUE(ours.ok()) << ours.status();
    BeamSearchRequest direct{r.prompt, r.options, r.session.params};
    model::SequenceId next = 1 << 20;
    auto expected = RunBeamSearch(*m, direct, [&] { return next++; });
    ASSERT_TRUE(expected.ok());
    ASSERT_EQ(ours->size(), expected->size());
    for (size_t i = 0; i < ours->size(); ++i) {
      EXPECT_EQ((*ours)[i].tokens, (*expected)[i].tokens) << "beams " << beams << " rank " << i;
      EXPECT_NEAR((*ours)[i].score, (*expected)[i].score, 1e-4);
    }
  }
  EXPECT_EQ(m->num_sequences(), 0);
}

}  // namespace
}  // namespace tandem::decoding
