// Issue 14 §3, over real gRPC servers and through the decoding loop: with
// speculation (draft model, self-speculation, n-gram, draft-model token trees;
// γ = 3, fixed), the joint
// distribution of the first three generated tokens equals target-only
// sampling's, for every logits processor, by Pearson's chi-square at
// α = 0.001 against an exact expectation. The expectation is the test's own
// brute force over the 8-token vocabulary (tests/testing/reference_sampling.h,
// written from the proto documentation): only the model's raw logits come
// from the code base, from a separately loaded copy of the target model.
// Negative controls plant a bug in the verifier (sampling/testing/) and must
// be rejected by the same harness.
//
// Draws per cell: kCiDraws, or $TANDEM_STAT_DRAWS (docs/speculative_decoding.md
// records a large run). $TANDEM_STAT_SEED moves every cell's seeds;
// $TANDEM_STAT_CONTROL_REPEATS repeats each negative control with fresh seeds
// and prints how often it was rejected (its power). Trees do not exist yet.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "model/model.h"
#include "sampling/testing/planted_verifier_bug.h"
#include "services/common/model_server_options.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/e2e/joint_sampler.h"
#include "tests/e2e/tiny_pair.h"
#include "tests/e2e/tiny_pair_cluster.h"
#include "tests/testing/oracles.h"
#include "tests/testing/reference_sampling.h"
#include "tests/testing/statistics.h"

namespace tandem {
namespace {

using testing::ReferenceParams;

constexpr int64_t kV = testing::kTinyPairVocab;
constexpr int64_t kCiDraws = 2048;
constexpr double kAlpha = 0.001;
constexpr int kGamma = 3;

// <s> a b c a b c a b: n-gram lookup finds the suffix earlier in the prompt.
const std::vector<uint32_t> kPrompt = {1, 3, 4, 5, 3, 4, 5, 3, 4};

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr || *value == '\0' ? fallback : std::atoll(value);
}

struct Mode {
  std::string name;
  v1::SpeculationMode mode;
  int tree_alternatives = 0;  // Draft model token trees, at the first 2 positions.
};

const std::vector<Mode>& Modes() {
  static const auto* modes = new std::vector<Mode>{
      {"off", v1::SPECULATION_MODE_OFF},
      {"draft", v1::SPECULATION_MODE_DRAFT_MODEL},
      {"self", v1::SPECULATION_MODE_SELF_SPECULATIVE},
      {"ngram", v1::SPECULATION_MODE_NGRAM},
      {"tree", v1::SPECULATION_MODE_DRAFT_MODEL, 2}};
  return *modes;
}

// One processor configuration, written twice and independently: as request
// fields, and as the documented semantics for the reference.
struct Processors {
  std::string name;
  std::function<void(v1::GenerationConfig*)> request;
  ReferenceParams reference;
  bool ignore_eos = true;  // EOS is then an ordinary token of the vocabulary.
};

ReferenceParams Ref(std::function<void(ReferenceParams*)> set) {
  ReferenceParams p;
  set(&p);
  return p;
}

const std::vector<Processors>& AllProcessors() {
  using C = v1::GenerationConfig;
  static const auto* all = new std::vector<Processors>{
      {"temperature", [](C* c) { c->mutable_sampling()->set_temperature(1.3f); },
       Ref([](ReferenceParams* p) { p->temperature = 1.3; })},
      {"top_k", [](C* c) { c->mutable_sampling()->set_top_k(3); },
       Ref([](ReferenceParams* p) { p->top_k = 3; })},
      {"top_p", [](C* c) { c->mutable_sampling()->set_top_p(0.8f); },
       Ref([](ReferenceParams* p) { p->top_p = 0.8; })},
      {"min_p", [](C* c) { c->mutable_sampling()->set_min_p(0.15f); },
       Ref([](ReferenceParams* p) { p->min_p = 0.15; })},
      {"typical_p", [](C* c) { c->mutable_sampling()->set_typical_p(0.7f); },
       Ref([](ReferenceParams* p) { p->typical_p = 0.7; })},
      {"repetition", [](C* c) { c->mutable_sampling()->set_repetition_penalty(1.6f); },
       Ref([](ReferenceParams* p) { p->repetition_penalty = 1.6; })},
      {"presence_frequency",
       [](C* c) {
         c->mutable_sampling()->set_presence_penalty(0.8f);
         c->mutable_sampling()->set_frequency_penalty(0.5f);
       },
       Ref([](ReferenceParams* p) {
         p->presence_penalty = 0.8;
         p->frequency_penalty = 0.5;
       })},
      {"no_repeat_ngram", [](C* c) { c->mutable_sampling()->set_no_repeat_ngram_size(3); },
       Ref([](ReferenceParams* p) { p->no_repeat_ngram_size = 3; })},
      {"logit_bias",
       [](C* c) {
         v1::LogitBias* up = c->mutable_sampling()->add_logit_bias();
         up->set_token_id(3);
         up->set_bias(1.5f);
         v1::LogitBias* down = c->mutable_sampling()->add_logit_bias();
         down->set_token_id(5);
         down->set_bias(-2.0f);
       },
       Ref([](ReferenceParams* p) { p->logit_bias = {{3, 1.5}, {5, -2.0}}; })},
      {"banned",
       [](C* c) {
         c->mutable_sampling()->add_banned_token_ids(4);
         c->mutable_sampling()->add_banned_token_ids(6);
       },
       Ref([](ReferenceParams* p) { p->banned = {4, 6}; })},
      // EOS (the model's default, id 2) is masked for the first two tokens
      // and may end the sequence at the third.
      {"min_new_tokens", [](C* c) { c->mutable_stopping()->set_min_new_tokens(2); },
       Ref([](ReferenceParams* p) {
         p->min_new_tokens = 2;
         p->eos_ids = {testing::kTinyPairEos};
       }),
       /*ignore_eos=*/false},
      // common.proto: "temperature 1.2, top_p 0.95, top_k 100, repetition_penalty 1.1".
      {"preset_creative",
       [](C* c) { c->mutable_sampling()->set_preset(v1::SAMPLING_PRESET_CREATIVE); },
       Ref([](ReferenceParams* p) {
         p->temperature = 1.2;
         p->top_p = 0.95;
         p->top_k = 100;
         p->repetition_penalty = 1.1;
       })},
  };
  return *all;
}

v1::GenerationConfig ConfigFor(const Mode& mode, const Processors& processors) {
  v1::GenerationConfig c;
  processors.request(&c);
  c.mutable_stopping()->set_max_new_tokens(kGamma + 1);  // The first round drafts γ.
  c.mutable_stopping()->set_ignore_eos(processors.ignore_eos);
  v1::SpeculationConfig* spec = c.mutable_speculation();
  spec->set_mode(mode.mode);
  if (mode.mode != v1::SPECULATION_MODE_OFF) spec->set_fixed_draft_length(kGamma);
  if (mode.mode == v1::SPECULATION_MODE_SELF_SPECULATIVE) {
    spec->mutable_self_speculative()->set_exit_layer(1);
  }
  if (mode.tree_alternatives > 0) {
    spec->mutable_tree()->set_alternatives(mode.tree_alternatives);
    spec->mutable_tree()->set_depth(2);
  }
  return c;
}

class SpeculativeStatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::E2eOptions options;
    options.max_sessions = 512;
    options.limits.max_active_sequences = 1024;
    absl::StatusOr<testing::TinyPairCluster> pair = testing::StartTinyPairCluster(options);
    ASSERT_TRUE(pair.ok()) << pair.status();
    cluster_ = pair->cluster.release();
    reference_model_ = pair->reference.release();
  }

  // A failed SetUpTestSuite leaves these null: fail each test instead of crashing.
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    ASSERT_NE(reference_model_, nullptr);
  }

  static void TearDownTestSuite() {
    delete cluster_;
    delete reference_model_;
    cluster_ = nullptr;
    reference_model_ = nullptr;
  }

  // The target's raw logits after `sequence`, from a model instance no
  // server uses.
  static std::vector<float> RawLogits(const std::vector<int64_t>& sequence) {
    static auto* cache = new std::map<std::vector<int64_t>, std::vector<float>>();
    auto it = cache->find(sequence);
    if (it != cache->end()) return it->second;
    return (*cache)[sequence] = testing::RawLogitsAfter(*reference_model_, sequence);
  }

  static std::vector<double> Expected(const Processors& processors) {
    return testing::ReferenceJointOfThree({kPrompt.begin(), kPrompt.end()}, kV,
                                          processors.reference, &RawLogits);
  }

  static absl::StatusOr<testing::JointDraws> Draw(const Mode& mode, const Processors& processors,
                                                  int64_t draws, uint64_t first_seed) {
    testing::JointSamplerOptions o;
    o.address = cluster_->address();
    o.vocab_size = kV;
    o.draws = draws;
    o.first_seed = first_seed;
    return testing::DrawJointOfThree(o, kPrompt, ConfigFor(mode, processors));
  }

  static testing::E2eCluster* cluster_;
  static model::Model* reference_model_;
};

testing::E2eCluster* SpeculativeStatTest::cluster_ = nullptr;
model::Model* SpeculativeStatTest::reference_model_ = nullptr;

struct Verdict {
  testing::GoodnessOfFit fit;
  bool rejected = false;
};

Verdict Judge(const testing::JointDraws& draws, const std::vector<double>& expected) {
  Verdict v;
  v.fit = testing::ChiSquareTest(draws.counts, expected);
  v.rejected = v.fit.p_value < kAlpha || v.fit.impossible > 0 || draws.short_sequences > 0;
  return v;
}

void Report(const std::string& cell, const testing::JointDraws& d, const Verdict& v,
            absl::Duration took) {
  std::printf("STAT %s draws=%lld %s short=%lld drafted=%llu accepted=%llu pos3=%llu secs=%.1f\n",
              cell.c_str(), static_cast<long long>(d.draws), v.fit.ToString().c_str(),
              static_cast<long long>(d.short_sequences),
              static_cast<unsigned long long>(d.drafted_tokens),
              static_cast<unsigned long long>(d.accepted_tokens),
              static_cast<unsigned long long>(d.drafted_at_position_3),
              absl::ToDoubleSeconds(took));
  std::fflush(stdout);
}

class JointOfThreeTest : public SpeculativeStatTest,
                         public ::testing::WithParamInterface<std::tuple<size_t, size_t>> {};

TEST_P(JointOfThreeTest, EqualsTargetOnlyBruteForce) {
  const Mode& mode = Modes()[std::get<0>(GetParam())];
  const Processors& processors = AllProcessors()[std::get<1>(GetParam())];
  const absl::Time start = absl::Now();
  absl::StatusOr<testing::JointDraws> d =
      Draw(mode, processors, EnvInt("TANDEM_STAT_DRAWS", kCiDraws), EnvInt("TANDEM_STAT_SEED", 1));
  ASSERT_TRUE(d.ok()) << d.status();
  const Verdict v = Judge(*d, Expected(processors));
  Report(mode.name + "/" + processors.name, *d, v, absl::Now() - start);
  EXPECT_EQ(d->short_sequences, 0);
  EXPECT_EQ(v.fit.impossible, 0) << "tokens the target distribution gives no mass";
  EXPECT_GE(v.fit.p_value, kAlpha) << v.fit.ToString();
  if (mode.mode == v1::SPECULATION_MODE_OFF) {
    EXPECT_EQ(d->drafted_tokens, 0u);
    return;
  }
  EXPECT_GT(d->drafted_at_position_3, 0u) << "no round drafted γ = 3 tokens";
  EXPECT_GT(d->accepted_tokens, 0u) << "no draft was accepted";
  EXPECT_LT(d->accepted_tokens, d->drafted_tokens) << "no draft was rejected";
  if (mode.tree_alternatives > 0) {
    EXPECT_GT(d->tree_alternatives, 0u) << "no tree was drafted";
    EXPECT_GT(d->tree_alternative_hits, 0u) << "no alternative was ever accepted";
  }
}

INSTANTIATE_TEST_SUITE_P(
    ModesTimesProcessors, JointOfThreeTest,
    ::testing::Combine(::testing::Range<size_t>(0, Modes().size()),
                       ::testing::Range<size_t>(0, AllProcessors().size())),
    [](const ::testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
      return Modes()[std::get<0>(info.param)].name + "_" +
             AllProcessors()[std::get<1>(info.param)].name;
    });

struct Control {
  std::string name;
  sampling::testing::VerifierFault fault;
  size_t mode;        // Index into Modes().
  size_t processors;  // Index into AllProcessors().
};

class NegativeControlTest : public SpeculativeStatTest,
                            public ::testing::WithParamInterface<Control> {};

// The same harness must reject a verifier with a planted bug. With
// $TANDEM_STAT_CONTROL_REPEATS = R > 1 it runs R times with disjoint seeds
// and prints the fraction rejected (the power at this many draws).
TEST_P(NegativeControlTest, PlantedVerifierBugIsRejected) {
  const Control& control = GetParam();
  const Mode& mode = Modes()[control.mode];
  const Processors& processors = AllProcessors()[control.processors];
  const int64_t draws = EnvInt("TANDEM_STAT_DRAWS", kCiDraws);
  const int64_t repeats = std::max<int64_t>(1, EnvInt("TANDEM_STAT_CONTROL_REPEATS", 1));
  const std::vector<double> expected = Expected(processors);
  int64_t rejected = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    const absl::Time start = absl::Now();
    absl::StatusOr<testing::JointDraws> d;
    {
      sampling::testing::ScopedPlantedVerifierBug bug(control.fault);
      d = Draw(mode, processors, draws, EnvInt("TANDEM_STAT_SEED", 1) + r * (draws + 1));
    }
    ASSERT_TRUE(d.ok()) << d.status();
    const Verdict v = Judge(*d, expected);
    Report(absl::StrCat("control/", control.name, "/", mode.name, "/", processors.name, "#", r),
           *d, v, absl::Now() - start);
    rejected += v.rejected;
  }
  std::printf("POWER control/%s draws=%lld rejected=%lld/%lld\n", control.name.c_str(),
              static_cast<long long>(draws), static_cast<long long>(rejected),
              static_cast<long long>(repeats));
  if (repeats == 1) {
    EXPECT_EQ(rejected, 1) << "the harness did not catch the planted bug";
  } else {
    EXPECT_GT(rejected, 0) << "the harness never caught the planted bug";
  }
}

using sampling::testing::VerifierFault;
INSTANTIATE_TEST_SUITE_P(
    PlantedBugs, NegativeControlTest,
    ::testing::Values(Control{"inverted_accept_ratio", VerifierFault::kInvertedAcceptRatio, 1, 0},
                      Control{"residual_without_clamp", VerifierFault::kResidualWithoutClamp, 1, 0},
                      Control{"inverted_accept_ratio_self", VerifierFault::kInvertedAcceptRatio, 2, 1},
                      Control{"residual_without_clamp_ngram", VerifierFault::kResidualWithoutClamp, 3, 0},
                      Control{"sibling_without_residual_tree", VerifierFault::kSiblingWithoutResidual, 4, 0}),
    [](const ::testing::TestParamInfo<Control>& info) { return info.param.name; });

}  // namespace
}  // namespace tandem
