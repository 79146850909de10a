// OutputOptions.distribution_top_n over real gRPC servers (issue 15 §3): every
// generated token carries the target's raw next-token distribution and the
// processed one it was chosen from, in every speculation mode. Both are
// checked against the test's own computation: raw = softmax of a separately
// loaded copy of the target model's logits; processed = the independent
// reference processors (tests/testing/reference_sampling.h, written from the
// proto documentation, sharing no code with sampling/). A negative control
// runs the same comparison against a deliberately wrong configuration and
// must see a difference. `tandem explore`'s library (tools/explorer) is then
// driven against the same servers.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "client/tandem_client.h"
#include "model/model.h"
#include "services/common/model_server_options.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/e2e/tiny_pair.h"
#include "tests/e2e/tiny_pair_cluster.h"
#include "tests/testing/oracles.h"
#include "tests/testing/reference_sampling.h"
#include "tools/explorer/live_explorer.h"

namespace tandem {
namespace {

using testing::ReferenceParams;

constexpr int64_t kV = testing::kTinyPairVocab;
// Logprobs travel as float32: 1e-5 relative to a probability is well above
// their rounding and far below the effect of any processor used here.
constexpr double kTolerance = 2e-5;

// <s> a b c a b c a b: n-gram lookup finds the suffix earlier in the prompt.
const std::vector<uint32_t> kPrompt = {1, 3, 4, 5, 3, 4, 5, 3, 4};

struct Case {
  std::string name;
  v1::SpeculationMode mode;
  std::function<void(v1::GenerationConfig*)> request;
  ReferenceParams reference;
};

ReferenceParams Ref(std::function<void(ReferenceParams*)> set) {
  ReferenceParams p;
  set(&p);
  return p;
}

std::vector<Case> Cases() {
  using C = v1::GenerationConfig;
  struct Processors {
    std::string name;
    std::function<void(C*)> request;
    ReferenceParams reference;
  };
  const std::vector<Processors> processors = {
      {"temperature", [](C* c) { c->mutable_sampling()->set_temperature(1.3f); },
       Ref([](ReferenceParams* p) { p->temperature = 1.3; })},
      {"top_k", [](C* c) { c->mutable_sampling()->set_top_k(3); },
       Ref([](ReferenceParams* p) { p->top_k = 3; })},
      {"top_p_min_p",
       [](C* c) {
         c->mutable_sampling()->set_top_p(0.8f);
         c->mutable_sampling()->set_temperature(0.7f);
       },
       Ref([](ReferenceParams* p) {
         p->top_p = 0.8;
         p->temperature = 0.7;
       })},
      {"penalties",
       [](C* c) {
         c->mutable_sampling()->set_repetition_penalty(1.6f);
         c->mutable_sampling()->set_presence_penalty(0.8f);
         c->mutable_sampling()->set_frequency_penalty(0.5f);
       },
       Ref([](ReferenceParams* p) {
         p->repetition_penalty = 1.6;
         p->presence_penalty = 0.8;
         p->frequency_penalty = 0.5;
       })},
      {"bias_and_ban",
       [](C* c) {
         v1::LogitBias* up = c->mutable_sampling()->add_logit_bias();
         up->set_token_id(3);
         up->set_bias(1.5f);
         c->mutable_sampling()->add_banned_token_ids(6);
       },
       Ref([](ReferenceParams* p) {
         p->logit_bias = {{3, 1.5}};
         p->banned = {6};
       })},
  };
  const std::vector<std::pair<std::string, v1::SpeculationMode>> modes = {
      {"off", v1::SPECULATION_MODE_OFF},
      {"draft", v1::SPECULATION_MODE_DRAFT_MODEL},
      {"self", v1::SPECULATION_MODE_SELF_SPECULATIVE},
      {"ngram", v1::SPECULATION_MODE_NGRAM}};
  std::vector<Case> out;
  for (const auto& [mode_name, mode] : modes) {
    for (const Processors& p : processors) {
      out.push_back({mode_name + "_" + p.name, mode, p.request, p.reference});
    }
  }
  return out;
}

class DistributionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TinyPairCluster> pair = testing::StartTinyPairCluster();
    ASSERT_TRUE(pair.ok()) << pair.status();
    cluster_ = pair->cluster.release();
    reference_model_ = pair->reference.release();
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    ASSERT_NE(reference_model_, nullptr);
    client_ = std::make_unique<client::TandemClient>(cluster_->address());
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
    return testing::RawLogitsAfter(*reference_model_, sequence);
  }

  static v1::GenerateRequest Request(const Case& c, uint32_t top_n, uint32_t max_new) {
    v1::GenerateRequest r;
    r.add_prompts()->mutable_token_ids()->mutable_ids()->Add(kPrompt.begin(), kPrompt.end());
    v1::GenerationConfig* config = r.mutable_config();
    c.request(config);
    config->mutable_sampling()->set_seed(1234);
    config->mutable_stopping()->set_max_new_tokens(max_new);
    config->mutable_stopping()->set_ignore_eos(true);
    config->mutable_speculation()->set_mode(c.mode);
    if (c.mode != v1::SPECULATION_MODE_OFF) {
      config->mutable_speculation()->set_fixed_draft_length(3);
    }
    if (c.mode == v1::SPECULATION_MODE_SELF_SPECULATIVE) {
      config->mutable_speculation()->mutable_self_speculative()->set_exit_layer(1);
    }
    config->mutable_output()->set_logprobs(true);
    config->mutable_output()->set_include_speculation_stats(true);
    config->mutable_output()->set_distribution_top_n(top_n);
    return r;
  }

  static testing::E2eCluster* cluster_;
  static model::Model* reference_model_;
  std::unique_ptr<client::TandemClient> client_;
};

testing::E2eCluster* DistributionTest::cluster_ = nullptr;
model::Model* DistributionTest::reference_model_ = nullptr;

std::vector<double> Softmax(const std::vector<float>& logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(logits[i] - top);
  for (double& x : p) x /= sum;
  return p;
}

// The largest difference between a returned list and a distribution over the
// whole vocabulary; a token the list leaves out counts as probability 0.
double MaxDifference(const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& list,
                     const std::vector<double>& expected) {
  std::vector<double> got(expected.size(), 0.0);
  for (const v1::TokenLogprob& t : list) {
    if (t.token_id() < got.size()) got[t.token_id()] = std::exp(static_cast<double>(t.logprob()));
  }
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - expected[i]));
  }
  return worst;
}

void ExpectDescending(const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& list) {
  for (int i = 1; i < list.size(); ++i) {
    EXPECT_GE(list[i - 1].logprob(), list[i].logprob()) << "entry " << i;
  }
}

TEST_F(DistributionTest, EveryTokenCarriesExactRawAndProcessedDistributionsInEveryMode) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<v1::GenerateResponse> response = client_->Generate(Request(c, kV, 7));
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->sequences_size(), 1);
    const v1::GeneratedSequence& seq = response->sequences(0);
    ASSERT_EQ(seq.tokens_size(), 7);
    if (c.mode != v1::SPECULATION_MODE_OFF) {
      EXPECT_GT(seq.stats().speculation().drafted_tokens(), 0u) << "nothing was drafted";
    }
    std::vector<int64_t> history(kPrompt.begin(), kPrompt.end());
    ReferenceParams wrong = c.reference;
    wrong.temperature *= 1.25;
    double control = 0;
    for (int k = 0; k < seq.tokens_size(); ++k) {
      SCOPED_TRACE(k);
      const v1::GeneratedToken& t = seq.tokens(k);
      const std::vector<float> raw = RawLogits(history);
      EXPECT_EQ(t.raw_distribution_size(), kV);
      EXPECT_LT(MaxDifference(t.raw_distribution(), Softmax(raw)), kTolerance);
      const std::vector<double> processed = testing::ReferenceNextTokenDistribution(
          raw, history, static_cast<int64_t>(kPrompt.size()), c.reference);
      EXPECT_LT(MaxDifference(t.processed_distribution(), processed), kTolerance);
      // Impossible tokens are left out; possible ones are all there.
      const auto possible = std::count_if(processed.begin(), processed.end(),
                                          [](double p) { return p > 0; });
      EXPECT_EQ(t.processed_distribution_size(), possible);
      ExpectDescending(t.raw_distribution());
      ExpectDescending(t.processed_distribution());
      // The token was chosen from the processed distribution: its logprob is there.
      bool found = false;
      for (const v1::TokenLogprob& e : t.processed_distribution()) {
        if (e.token_id() == t.token_id()) {
          found = true;
          EXPECT_NEAR(e.logprob(), t.logprob(), 1e-5);
        }
        if (e.token_id() >= 3) {  // "▁a".."▁e"; control tokens may decode to nothing.
          EXPECT_FALSE(e.piece().empty()) << "token " << e.token_id() << " has no piece";
        }
      }
      EXPECT_TRUE(found) << "token " << t.token_id() << " is not in its processed distribution";
      control = std::max(control,
                         MaxDifference(t.processed_distribution(),
                                       testing::ReferenceNextTokenDistribution(
                                           raw, history, static_cast<int64_t>(kPrompt.size()),
                                           wrong)));
      history.push_back(t.token_id());
    }
    // Negative control: the same comparison sees a wrong temperature.
    EXPECT_GT(control, 100 * kTolerance);
  }
}

TEST_F(DistributionTest, TopNCutsToTheMostLikelyAndOffReturnsNothing) {
  const Case c{"off", v1::SPECULATION_MODE_OFF, [](v1::GenerationConfig*) {}, {}};
  absl::StatusOr<v1::GenerateResponse> cut = client_->Generate(Request(c, 3, 1));
  ASSERT_TRUE(cut.ok()) << cut.status();
  const v1::GeneratedToken& t = cut->sequences(0).tokens(0);
  ASSERT_EQ(t.raw_distribution_size(), 3);
  std::vector<double> p = Softmax(RawLogits({kPrompt.begin(), kPrompt.end()}));
  std::vector<double> sorted = p;
  std::sort(sorted.rbegin(), sorted.rend());
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(std::exp(t.raw_distribution(i).logprob()), sorted[i], kTolerance);
    EXPECT_NEAR(p[t.raw_distribution(i).token_id()], sorted[i], kTolerance);
  }
  absl::StatusOr<v1::GenerateResponse> off = client_->Generate(Request(c, 0, 2));
  ASSERT_TRUE(off.ok()) << off.status();
  for (const v1::GeneratedToken& u : off->sequences(0).tokens()) {
    EXPECT_EQ(u.raw_distribution_size(), 0);
    EXPECT_EQ(u.processed_distribution_size(), 0);
  }
}

TEST_F(DistributionTest, GreedyTokenIsTheProcessedArgmaxAndStreamingCarriesThem) {
  const Case c{"greedy", v1::SPECULATION_MODE_DRAFT_MODEL,
               [](v1::GenerationConfig* g) { g->mutable_sampling()->set_temperature(0); }, {}};
  v1::GenerateRequest request = Request(c, kV, 6);
  std::vector<v1::GeneratedToken> tokens;
  absl::Status s = client_->GenerateStream(request, [&](const v1::GenerateStreamResponse& m) {
    if (m.has_chunk()) {
      for (const v1::GeneratedToken& t : m.chunk().tokens()) tokens.push_back(t);
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(tokens.size(), 6u);
  std::vector<int64_t> history(kPrompt.begin(), kPrompt.end());
  for (const v1::GeneratedToken& t : tokens) {
    const std::vector<double> p = Softmax(RawLogits(history));
    const int64_t argmax = std::max_element(p.begin(), p.end()) - p.begin();
    EXPECT_EQ(t.token_id(), argmax);
    ASSERT_GT(t.processed_distribution_size(), 0);
    EXPECT_EQ(t.processed_distribution(0).token_id(), argmax);
    EXPECT_LT(MaxDifference(t.raw_distribution(), p), kTolerance);
    history.push_back(t.token_id());
  }
}

TEST_F(DistributionTest, OutOfRangeRequestsAreRefusedNamingTheField) {
  const Case c{"off", v1::SPECULATION_MODE_OFF, [](v1::GenerationConfig*) {}, {}};
  absl::StatusOr<v1::GenerateResponse> big = client_->Generate(Request(c, 4097, 1));
  ASSERT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(big.status().message(), "config.output.distribution_top_n"));
  EXPECT_TRUE(absl::StrContains(big.status().message(), "[0, 4096]"));
  // 4096 × 17 tokens > 65536 entries; 4096 × 16 fits.
  absl::StatusOr<v1::GenerateResponse> total = client_->Generate(Request(c, 4096, 17));
  ASSERT_EQ(total.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(total.status().message(), "65536"));
  absl::StatusOr<v1::GenerateResponse> fits = client_->Generate(Request(c, 4096, 16));
  EXPECT_TRUE(fits.ok()) << fits.status();
  v1::GenerateRequest beams = Request(c, 4, 2);
  beams.mutable_config()->mutable_beam_search()->set_num_beams(2);
  beams.mutable_config()->mutable_sampling()->set_temperature(0);
  absl::StatusOr<v1::GenerateResponse> beam = client_->Generate(beams);
  ASSERT_EQ(beam.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(beam.status().message(), "beam search"));
}

TEST_F(DistributionTest, LiveExplorerShowsTheServedDistributionAndServerSamples) {
  explorer::LiveOptions o;
  o.request.prompt_token_ids = {kPrompt};
  o.request.temperature = 1.3f;
  o.request.top_k = 3;
  o.top_n = kV;
  o.samples = 600;
  o.seed = 7;
  absl::StatusOr<explorer::LiveView> view = explorer::ExploreLive(*client_, o);
  ASSERT_TRUE(view.ok()) << view.status();
  const explorer::Exploration& x = view->exploration;
  ReferenceParams ref;
  ref.temperature = 1.3;
  ref.top_k = 3;
  const std::vector<int64_t> history(kPrompt.begin(), kPrompt.end());
  const std::vector<float> raw = RawLogits(history);
  const std::vector<double> expected =
      testing::ReferenceNextTokenDistribution(raw, history, kPrompt.size(), ref);
  ASSERT_EQ(view->example.labels.size(), static_cast<size_t>(kV)) << "no (other) row expected";
  EXPECT_EQ(x.num_samples, 600);
  // Every row is a token of the tiny vocabulary, labelled by its piece.
  const char* pieces[kV] = {"<unk>", "<s>", "</s>", " a", " b", " c", " d", " e"};
  int64_t total = 0;
  for (size_t i = 0; i < view->example.labels.size(); ++i) {
    const std::string& label = view->example.labels[i];
    int64_t id = -1;
    for (int64_t v = 0; v < kV; ++v) {
      if (label == "'" + std::string(pieces[v]) + "'" || label == "#" + std::to_string(v)) id = v;
    }
    ASSERT_GE(id, 0) << "unexpected label " << label;
    EXPECT_NEAR(x.processed_probs[i], expected[id], kTolerance) << label;
    EXPECT_NEAR(x.raw_probs[i], Softmax(raw)[id], kTolerance) << label;
    if (expected[id] == 0) {
      EXPECT_EQ(x.sample_counts[i], 0) << label;
    }
    // The server's samples: within 5 standard deviations of the expectation.
    const double mean = 600 * expected[id];
    EXPECT_NEAR(x.sample_counts[i], mean, 5 * std::sqrt(mean * (1 - expected[id])) + 1) << label;
    total += x.sample_counts[i];
  }
  EXPECT_EQ(total, 600);
  EXPECT_TRUE(absl::StrContains(x.chain, "temperature 1.3"));
  EXPECT_TRUE(absl::StrContains(x.chain, "top_k 3"));
  EXPECT_TRUE(x.note.empty()) << x.note;

  // A cut list gets an "(other)" row with the rest of the mass, and a note.
  o.top_n = 2;
  o.samples = 50;
  absl::StatusOr<explorer::LiveView> cut = explorer::ExploreLive(*client_, o);
  ASSERT_TRUE(cut.ok()) << cut.status();
  ASSERT_EQ(cut->example.labels.back(), "(other)");
  double raw_sum = 0;
  for (double p : cut->exploration.raw_probs) raw_sum += std::max(0.0, p);
  EXPECT_NEAR(raw_sum, 1.0, 1e-5);
  EXPECT_FALSE(cut->exploration.note.empty());

  // Greedy: every sample is the argmax.
  o.request.temperature = 0.0f;
  o.request.top_k.reset();
  o.samples = 20;
  absl::StatusOr<explorer::LiveView> greedy = explorer::ExploreLive(*client_, o);
  ASSERT_TRUE(greedy.ok()) << greedy.status();
  EXPECT_EQ(*std::max_element(greedy->exploration.sample_counts.begin(),
                              greedy->exploration.sample_counts.end()),
            20);

  o.top_n = 0;
  EXPECT_EQ(explorer::ExploreLive(*client_, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem
