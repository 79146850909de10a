// DifferentiableForward: its logits equal TransformerModel::Forward's for
// every family, autograd reaches the embeddings, batching and right-padding
// do not change a row, bf16 checkpoints are widened, bad input is refused.

#include "model/differentiable_forward.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::model {
namespace {

using ::testing::HasSubstr;
using testing::RandomCheckpoint;

// Max |a - b| relative to max(1, max |b|).
double RelativeError(const at::Tensor& a, const at::Tensor& b) {
  const double scale = std::max(1.0, b.abs().max().item<double>());
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() / scale;
}

class DifferentiableForwardTest : public ::testing::TestWithParam<testing::NamedConfig> {
 protected:
  void SetUp() override { checkpoint_ = RandomCheckpoint(GetParam().config, 4321); }

  std::unique_ptr<DifferentiableForward> Make(at::ScalarType dtype) {
    auto f = DifferentiableForward::Create(checkpoint_, {dtype});
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : nullptr;
  }

  Checkpoint checkpoint_;
};

// Tolerance 1e-5 x max(1, max |logit|) in float32 (measured ~1e-6: the two
// paths sum in different orders); 1e-5 in float64 too (TransformerModel is
// float32).
TEST_P(DifferentiableForwardTest, LogitsEqualTransformerModelForward) {
  auto model = TransformerModel::Create(checkpoint_, {});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<int64_t> ids = testing::SpreadTokens(13, GetParam().config.vocab_size);
  auto expected = (*model)->ForwardOne(1, ids);
  ASSERT_TRUE(expected.ok()) << expected.status();
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    auto forward = Make(dtype);
    ASSERT_NE(forward, nullptr);
    auto embeddings = forward->Embed(ids);
    ASSERT_TRUE(embeddings.ok()) << embeddings.status();
    auto logits = forward->Forward(*embeddings);
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_EQ(logits->sizes(), expected->sizes());
    EXPECT_LE(RelativeError(*logits, *expected), 1e-5) << c10::toString(dtype);
  }
}

TEST_P(DifferentiableForwardTest, GradientsReachEveryEarlierEmbeddingRowOnly) {
  auto forward = Make(at::kFloat);
  ASSERT_NE(forward, nullptr);
  at::Tensor x = forward->Embed(testing::SpreadTokens(9, GetParam().config.vocab_size))->clone();
  x.requires_grad_(true);
  auto logits = forward->Forward(x);
  ASSERT_TRUE(logits.ok()) << logits.status();
  (*logits)[5][3].backward();
  const at::Tensor row_norms = x.grad().abs().sum(-1);
  // Row 5 depends on rows [0, 5] (windows allow at least 3 per layer, and
  // 4 layers reach back further), never on later rows.
  for (int64_t r = 0; r <= 5; ++r) EXPECT_GT(row_norms[r].item<double>(), 0) << r;
  for (int64_t r = 6; r < 9; ++r) EXPECT_EQ(row_norms[r].item<double>(), 0) << r;
}

TEST_P(DifferentiableForwardTest, BatchEntriesAndRightPaddingDoNotChangeRows) {
  auto forward = Make(at::kDouble);
  ASSERT_NE(forward, nullptr);
  const std::vector<int64_t> ids = testing::SpreadTokens(10, GetParam().config.vocab_size);
  at::Tensor x = *forward->Embed(ids);
  at::Tensor prefix = *forward->Forward(x.narrow(0, 0, 6));
  at::Tensor batch = *forward->Forward(at::stack({x, x.flip(0)}));
  EXPECT_LE(RelativeError(batch[0].narrow(0, 0, 6), prefix), 1e-12);
  EXPECT_LE(RelativeError(batch[1], *forward->Forward(x.flip(0))), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Families, DifferentiableForwardTest, ::testing::ValuesIn(testing::TinyFamilyConfigs()),
                         [](const auto& info) { return info.param.name; });

TEST(DifferentiableForwardCreateTest, WidensBfloat16Weights) {
  Checkpoint bf16 = RandomCheckpoint(testing::TinyLlamaConfig(), 7);
  for (auto& [name, t] : bf16.tensors) t = t.to(at::kBFloat16);
  Checkpoint widened = bf16;
  for (auto& [name, t] : widened.tensors) t = t.to(at::kFloat);
  auto a = DifferentiableForward::Create(bf16);
  auto b = DifferentiableForward::Create(widened);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<int64_t> ids = testing::SpreadTokens(5, 97);
  at::Tensor la = *(*a)->Forward(*(*a)->Embed(ids));
  EXPECT_EQ(la.scalar_type(), at::kFloat);
  EXPECT_TRUE(la.equal(*(*b)->Forward(*(*b)->Embed(ids))));
}

TEST(DifferentiableForwardCreateTest, RejectsBadOptionsAndInput) {
  const Checkpoint ck = RandomCheckpoint(testing::TinyLlamaConfig(), 7);
  EXPECT_THAT(DifferentiableForward::Create(ck, {at::kBFloat16}).status().message(),
              HasSubstr("dtype must be float32 or float64"));
  Checkpoint missing = ck;
  missing.tensors.erase("model.norm.weight");
  EXPECT_THAT(DifferentiableForward::Create(missing).status().message(),
              HasSubstr("missing tensor model.norm.weight"));
  auto f = DifferentiableForward::Create(ck);
  ASSERT_TRUE(f.ok());
  EXPECT_THAT((*f)->Embed({1, 97}).status().message(), HasSubstr("outside the vocabulary"));
  EXPECT_EQ((*f)->Embed({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*f)->Embed(std::vector<int64_t>(65, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT((*f)->Hidden(at::zeros({3, 31})).status().message(), HasSubstr("embeddings must be"));
  EXPECT_THAT((*f)->Hidden(at::zeros({3, 32}, at::kDouble)).status().message(),
              HasSubstr("embeddings must be Float, got Double"));
  EXPECT_EQ((*f)->Hidden(at::zeros({1, 65, 32})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::model
