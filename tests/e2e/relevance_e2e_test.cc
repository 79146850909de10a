// OutputOptions.relevance over real gRPC servers (issue 15 §1): the target
// computes token-level relevance of every generated token after the sequence
// ends, so every speculation mode returns the same relevance for the same
// greedy tokens. The returned scores are checked against model/relevance.h
// run here on a separately loaded copy of the checkpoint (the plumbing:
// positions, options, defaults), against Integrated Gradients' completeness
// (the numbers themselves), and for shape (sorted top lists, dense sizes).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "client/tandem_client.h"
#include "model/differentiable_forward.h"
#include "model/formats/checkpoint_loader.h"
#include "model/relevance.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/e2e/tiny_pair.h"
#include "tests/e2e/tiny_pair_cluster.h"
#include "tests/testing/oracles.h"

namespace tandem {
namespace {

// <s> a b c a b c a b: n-gram lookup finds the suffix earlier in the prompt.
const std::vector<uint32_t> kPrompt = {1, 3, 4, 5, 3, 4, 5, 3, 4};
constexpr int kNewTokens = 6;

class RelevanceE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<testing::TinyPairCluster> pair = testing::StartTinyPairCluster();
    ASSERT_TRUE(pair.ok()) << pair.status();
    cluster_ = pair->cluster.release();
    absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(pair->paths.target_gguf);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    auto forward = model::DifferentiableForward::Create(*checkpoint);
    ASSERT_TRUE(forward.ok()) << forward.status();
    reference_ = forward->release();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    delete reference_;
    cluster_ = nullptr;
    reference_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    ASSERT_NE(reference_, nullptr);
    client_ = std::make_unique<client::TandemClient>(cluster_->address());
  }

  // A greedy request for kNewTokens tokens (EOS ignored) with relevance.
  static v1::GenerateRequest Request(const client::GenerateOptions& relevance,
                                     v1::SpeculationMode mode = v1::SPECULATION_MODE_OFF) {
    client::GenerateOptions o = relevance;
    o.prompt_token_ids = {kPrompt};
    o.temperature = 0.0f;
    o.max_new_tokens = kNewTokens;
    o.relevance = true;
    absl::StatusOr<v1::GenerateRequest> r = client::BuildRequest(o);
    EXPECT_TRUE(r.ok()) << r.status();
    v1::GenerationConfig* config = r->mutable_config();
    config->mutable_stopping()->set_ignore_eos(true);
    config->mutable_speculation()->set_mode(mode);
    if (mode != v1::SPECULATION_MODE_OFF) {
      config->mutable_speculation()->set_fixed_draft_length(3);
    }
    if (mode == v1::SPECULATION_MODE_SELF_SPECULATIVE) {
      config->mutable_speculation()->mutable_self_speculative()->set_exit_layer(1);
    }
    return *r;
  }

  v1::GeneratedSequence GenerateOne(const v1::GenerateRequest& request) {
    absl::StatusOr<v1::GenerateResponse> response = client_->Generate(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->sequences_size() != 1) return {};
    return response->sequences(0);
  }

  // The sequence's tokens (prompt + generated) and model/relevance.h's
  // answer for them, computed here.
  static std::vector<model::TokenRelevance> Reference(const v1::GeneratedSequence& seq,
                                                      const model::RelevanceOptions& options) {
    std::vector<int64_t> tokens(kPrompt.begin(), kPrompt.end());
    std::vector<int64_t> positions;
    for (const v1::GeneratedToken& t : seq.tokens()) {
      positions.push_back(tokens.size());
      tokens.push_back(t.token_id());
    }
    auto r = model::ComputeRelevance(*reference_, tokens, positions, options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<model::TokenRelevance>();
  }

  static testing::E2eCluster* cluster_;
  static model::DifferentiableForward* reference_;
  std::unique_ptr<client::TandemClient> client_;
};

testing::E2eCluster* RelevanceE2eTest::cluster_ = nullptr;
model::DifferentiableForward* RelevanceE2eTest::reference_ = nullptr;

// The largest |a - b| / max(1, |b|) between returned dense scores and a
// reference's.
double DenseDifference(const v1::GeneratedSequence& seq,
                       const std::vector<model::TokenRelevance>& reference) {
  double worst = 0;
  for (int i = 0; i < seq.tokens_size() && i < static_cast<int>(reference.size()); ++i) {
    const auto& got = seq.tokens(i).relevance().dense_scores();
    EXPECT_EQ(got.size(), static_cast<int>(reference[i].scores.size()));
    for (int j = 0; j < got.size() && j < static_cast<int>(reference[i].scores.size()); ++j) {
      worst = std::max(worst, std::abs(got[j] - reference[i].scores[j]) /
                                  std::max(1.0, std::abs(reference[i].scores[j])));
    }
  }
  return worst;
}

// Worst |sum of dense scores - (f(x) - f(x'))| / max(1, |f(x) - f(x')|).
double CompletenessError(const v1::GeneratedSequence& seq) {
  double worst = 0;
  for (const v1::GeneratedToken& t : seq.tokens()) {
    double sum = 0;
    for (float s : t.relevance().dense_scores()) sum += s;
    const double delta = t.relevance().target() - t.relevance().baseline();
    worst = std::max(worst, std::abs(sum - delta) / std::max(1.0, std::abs(delta)));
  }
  return worst;
}

TEST_F(RelevanceE2eTest, EveryGeneratedTokenHasSortedTopPositionsAndDenseScores) {
  client::GenerateOptions o;
  o.relevance_dense = true;
  const v1::GeneratedSequence seq = GenerateOne(Request(o));
  ASSERT_EQ(seq.tokens_size(), kNewTokens);
  for (int i = 0; i < kNewTokens; ++i) {
    SCOPED_TRACE(i);
    const v1::TokenRelevance& r = seq.tokens(i).relevance();
    const uint32_t position = kPrompt.size() + i;
    EXPECT_EQ(r.position(), position);
    ASSERT_EQ(r.dense_scores_size(), static_cast<int>(position));
    ASSERT_EQ(r.top_size(), 8);  // The default top_n.
    for (int k = 0; k < r.top_size(); ++k) {
      ASSERT_LT(r.top(k).position(), position);
      EXPECT_EQ(r.top(k).score(), r.dense_scores(r.top(k).position()));
      if (k > 0) EXPECT_GE(std::abs(r.top(k - 1).score()), std::abs(r.top(k).score()));
    }
    // No position outside the list beats the list's last entry.
    for (int j = 0; j < r.dense_scores_size(); ++j) {
      bool listed = false;
      for (const v1::ScoredPosition& p : r.top()) listed |= p.position() == static_cast<uint32_t>(j);
      if (!listed) EXPECT_LE(std::abs(r.dense_scores(j)), std::abs(r.top(7).score())) << j;
    }
  }
}

TEST_F(RelevanceE2eTest, DefaultsAreIntegratedGradientsFromTheMeanEmbedding) {
  client::GenerateOptions o;
  o.relevance_dense = true;
  const v1::GeneratedSequence seq = GenerateOne(Request(o));
  ASSERT_EQ(seq.tokens_size(), kNewTokens);
  model::RelevanceOptions mean;
  mean.baseline = model::RelevanceBaseline::kMeanEmbedding;
  model::RelevanceOptions zero;
  zero.baseline = model::RelevanceBaseline::kZero;
  const double to_mean = DenseDifference(seq, Reference(seq, mean));
  const double to_zero = DenseDifference(seq, Reference(seq, zero));
  std::printf("api vs library: mean baseline %.3g, zero baseline %.3g\n", to_mean, to_zero);
  // Float32 on both sides, the same computation: only the wire's float
  // rounding may differ.
  EXPECT_LE(to_mean, 1e-5);
  EXPECT_GT(to_zero, 1e-3);  // The negative control tells the baselines apart.

  o.relevance_baseline = "zero";
  const v1::GeneratedSequence zero_seq = GenerateOne(Request(o));
  EXPECT_LE(DenseDifference(zero_seq, Reference(zero_seq, zero)), 1e-5);
}

TEST_F(RelevanceE2eTest, GreedyRelevanceIsIdenticalAcrossSpeculationModes) {
  client::GenerateOptions o;
  o.relevance_dense = true;
  o.relevance_steps = 16;
  const v1::GeneratedSequence off = GenerateOne(Request(o, v1::SPECULATION_MODE_OFF));
  ASSERT_EQ(off.tokens_size(), kNewTokens);
  for (v1::SpeculationMode mode : {v1::SPECULATION_MODE_DRAFT_MODEL,
                                   v1::SPECULATION_MODE_SELF_SPECULATIVE,
                                   v1::SPECULATION_MODE_NGRAM}) {
    SCOPED_TRACE(v1::SpeculationMode_Name(mode));
    const v1::GeneratedSequence seq = GenerateOne(Request(o, mode));
    ASSERT_EQ(seq.tokens_size(), kNewTokens);
    for (int i = 0; i < kNewTokens; ++i) {
      ASSERT_EQ(seq.tokens(i).token_id(), off.tokens(i).token_id()) << i;
      // The same token ids through the same computation: bit for bit.
      EXPECT_EQ(seq.tokens(i).relevance().SerializeAsString(),
                off.tokens(i).relevance().SerializeAsString())
          << i;
    }
  }
}

TEST_F(RelevanceE2eTest, IntegratedGradientsCompletenessShrinksWithSteps) {
  client::GenerateOptions o;
  o.relevance_dense = true;
  o.relevance_steps = 8;
  const double coarse = CompletenessError(GenerateOne(Request(o)));
  o.relevance_steps = 256;
  const double fine = CompletenessError(GenerateOne(Request(o)));
  std::printf("completeness error (mean baseline): 8 steps %.3g, 256 steps %.3g\n", coarse, fine);
  // The midpoint rule's 1 / steps^2 would gain 1024x; float32 sums of a few
  // hundred terms keep ~1e-6.
  EXPECT_LE(fine, 1e-4);
  EXPECT_LT(fine * 10, coarse);
}

TEST_F(RelevanceE2eTest, InputTimesGradientHasNoBaselineValue) {
  client::GenerateOptions o;
  o.relevance_method = "ixg";
  o.relevance_top_n = 3;
  const v1::GeneratedSequence seq = GenerateOne(Request(o));
  ASSERT_EQ(seq.tokens_size(), kNewTokens);
  model::RelevanceOptions ixg;
  ixg.method = model::RelevanceMethod::kInputTimesGradient;
  const std::vector<model::TokenRelevance> reference = Reference(seq, ixg);
  ASSERT_EQ(reference.size(), static_cast<size_t>(kNewTokens));
  for (int i = 0; i < kNewTokens; ++i) {
    const v1::TokenRelevance& r = seq.tokens(i).relevance();
    EXPECT_EQ(r.baseline(), 0.0);
    EXPECT_EQ(r.dense_scores_size(), 0);  // Not asked for.
    ASSERT_EQ(r.top_size(), 3);
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(r.top(k).position(), reference[i].top[k].position);
      EXPECT_NEAR(r.top(k).score(), reference[i].top[k].score, 1e-5);
    }
  }
}

TEST_F(RelevanceE2eTest, StreamCarriesRelevanceInSequenceEnd) {
  client::GenerateOptions o;
  o.relevance_steps = 8;
  const v1::GenerateRequest request = Request(o);
  const v1::GeneratedSequence unary = GenerateOne(request);
  ASSERT_EQ(unary.tokens_size(), kNewTokens);
  std::vector<v1::TokenRelevance> ended;
  int chunk_tokens = 0;
  absl::Status s = client_->GenerateStream(request, [&](const v1::GenerateStreamResponse& m) {
    if (m.has_chunk()) {
      for (const v1::GeneratedToken& t : m.chunk().tokens()) {
        EXPECT_FALSE(t.has_relevance());
        ++chunk_tokens;
      }
      EXPECT_TRUE(ended.empty()) << "a chunk after the sequence end";
    }
    if (m.has_sequence_end()) {
      ended.assign(m.sequence_end().relevance().begin(), m.sequence_end().relevance().end());
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(chunk_tokens, kNewTokens);
  ASSERT_EQ(ended.size(), static_cast<size_t>(kNewTokens));
  for (int i = 0; i < kNewTokens; ++i) {
    EXPECT_EQ(ended[i].SerializeAsString(), unary.tokens(i).relevance().SerializeAsString()) << i;
  }
}

TEST_F(RelevanceE2eTest, NoRelevanceUnlessAsked) {
  client::GenerateOptions o;
  v1::GenerateRequest request = Request(o);
  request.mutable_config()->mutable_output()->clear_relevance();
  const v1::GeneratedSequence seq = GenerateOne(request);
  ASSERT_EQ(seq.tokens_size(), kNewTokens);
  for (const v1::GeneratedToken& t : seq.tokens()) EXPECT_FALSE(t.has_relevance());
}

TEST_F(RelevanceE2eTest, RequestErrorsNameTheField) {
  client::GenerateOptions o;
  o.relevance_top_n = 65;
  absl::StatusOr<v1::GenerateResponse> r = client_->Generate(Request(o));
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("`config.output.relevance.top_n` must be in [0, 64]"),
            std::string::npos)
      << r.status();
  client::GenerateOptions beams;
  v1::GenerateRequest beam = Request(beams);
  beam.mutable_config()->mutable_beam_search()->set_num_beams(2);
  r = client_->Generate(beam);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("`config.output.relevance` is not available with beam"),
            std::string::npos)
      << r.status();
}

TEST_F(RelevanceE2eTest, TargetServiceRejectsABadFirstGeneratedPosition) {
  auto stub = v1::TargetService::NewStub(*services::MakeChannel(cluster_->target_address()));
  v1::ComputeRelevanceRequest request;
  for (uint32_t t : kPrompt) request.add_token_ids(t);
  request.set_first_generated(kPrompt.size());
  grpc::ClientContext context;
  v1::ComputeRelevanceResponse response;
  grpc::Status s = stub->ComputeRelevance(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("first_generated"), std::string::npos) << s.error_message();
  request.set_first_generated(3);
  grpc::ClientContext ok_context;
  s = stub->ComputeRelevance(&ok_context, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.relevance_size(), static_cast<int>(kPrompt.size()) - 3);
}

}  // namespace
}  // namespace tandem
