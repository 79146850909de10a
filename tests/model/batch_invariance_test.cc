// Numerical discipline of the CPU decoder, bit for bit (no tolerances):
// - bfloat16 weights compute exactly what float32 weights with the same
//   values compute (float32 activations, cache and accumulation);
// - a k-row verify pass equals k 1-row decode steps;
// - a sequence's logits do not depend on the sequences batched with it, on
//   the thread count, or on an early-exit draft pass that preceded them.
// Negative control: weights that differ by one bfloat16 step in one matrix
// must change the logits, so equality is not vacuous.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::model {
namespace {

using testing::RandomCheckpoint;

// Every tensor rounded to `dtype` and stored as float32.
Checkpoint RoundedTo(Checkpoint ck, at::ScalarType dtype) {
  for (auto& [name, t] : ck.tensors) t = t.to(dtype).to(at::kFloat);
  return ck;
}
Checkpoint RoundedToBf16(Checkpoint ck) { return RoundedTo(std::move(ck), at::kBFloat16); }

std::unique_ptr<TransformerModel> Make(const Checkpoint& ck, at::ScalarType dtype) {
  auto m = TransformerModel::Create(ck, TransformerOptions{dtype});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

at::Tensor Forward1(Model& m, SequenceId id, const std::vector<int64_t>& tokens, int64_t exit = 0) {
  auto out = m.ForwardOne(id, tokens, exit);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : at::Tensor();
}

// Prefill then three decode steps; all logits concatenated.
at::Tensor Trace(Model& m) {
  std::vector<at::Tensor> parts = {Forward1(m, 1, {5, 9, 2, 14, 7, 3, 11, 1, 8})};
  for (int64_t t : {4, 12, 6}) parts.push_back(Forward1(m, 1, {t}));
  return at::cat(parts);
}

class BatchInvarianceTest : public ::testing::TestWithParam<std::string> {
 protected:
  ModelConfig Config() const {
    return GetParam() == "gpt2" ? testing::TinyGpt2Config() : testing::TinyLlamaConfig();
  }
};

TEST_P(BatchInvarianceTest, HalfPrecisionWeightsComputeExactlyLikeFloat32) {
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    const Checkpoint ck = RoundedTo(RandomCheckpoint(Config(), 11), dtype);
    auto f32 = Make(ck, at::kFloat);
    auto half = Make(ck, dtype);
    EXPECT_TRUE(at::equal(Trace(*f32), Trace(*half))) << c10::toString(dtype);
  }
}

TEST_P(BatchInvarianceTest, NegativeControlOneWeightStepChangesLogits) {
  Checkpoint ck = RoundedToBf16(RandomCheckpoint(Config(), 11));
  auto base = Make(ck, at::kBFloat16);
  for (auto& [name, t] : ck.tensors) {
    if (name.find("layers.0.mlp.down_proj") != std::string::npos ||
        name.find("h.0.mlp.c_proj.weight") != std::string::npos) {
      t = (t * 1.01).to(at::kBFloat16).to(at::kFloat);
    }
  }
  auto changed = Make(ck, at::kBFloat16);
  EXPECT_FALSE(at::equal(Trace(*base), Trace(*changed)));
}

TEST_P(BatchInvarianceTest, VerifyRowsEqualDecodeSteps) {
  auto m = Make(RandomCheckpoint(Config(), 5), at::kBFloat16);
  Forward1(*m, 1, {3, 1, 4, 1, 5, 9, 2});
  const std::vector<int64_t> draft = {6, 5, 3, 5, 8, 9, 7, 9};
  at::Tensor verify = Forward1(*m, 1, draft);
  ASSERT_TRUE(m->Truncate(1, 7).ok());
  for (size_t t = 0; t < draft.size(); ++t) {
    at::Tensor step = Forward1(*m, 1, {draft[t]});
    EXPECT_TRUE(at::equal(step[0], verify[t])) << "row " << t;
  }
}

TEST_P(BatchInvarianceTest, SequenceLogitsIndependentOfBatchAndThreads) {
  const Checkpoint ck = RandomCheckpoint(Config(), 8);
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {4, 5, 6, 7, 8, 9, 10}, {11}};
  const std::vector<std::vector<int64_t>> steps = {{12, 13}, {14}, {15, 16, 17}};
  // Alone, one thread.
  std::vector<at::Tensor> alone;
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto m = Make(ck, at::kBFloat16);
    at::Tensor a = Forward1(*m, 7, prompts[i]);
    alone.push_back(at::cat({a, Forward1(*m, 7, steps[i])}));
  }
  // Together, two threads, with a fourth sequence in every pass.
  at::set_num_threads(2);
  auto m = Make(ck, at::kBFloat16);
  std::vector<int64_t> other = {20, 21, 22, 23, 24};
  std::vector<ForwardRequest> batch;
  for (size_t i = 0; i < prompts.size(); ++i) batch.push_back({i + 1, prompts[i]});
  batch.push_back({99, other});
  auto first = m->Forward(batch);
  ASSERT_TRUE(first.ok()) << first.status();
  batch.clear();
  for (size_t i = 0; i < steps.size(); ++i) batch.push_back({i + 1, steps[i]});
  std::vector<int64_t> next = {25};
  batch.push_back({99, next});
  auto second = m->Forward(batch);
  ASSERT_TRUE(second.ok()) << second.status();
  at::set_num_threads(threads);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_TRUE(at::equal(alone[i], at::cat({(*first)[i], (*second)[i]}))) << "sequence " << i;
  }
}

TEST(BatchInvarianceLlamaTest, FullPassAfterEarlyExitDraftEqualsPlainFullPass) {
  const Checkpoint ck = RandomCheckpoint(testing::TinyLlamaConfig(), 9);
  auto plain = Make(ck, at::kBFloat16);
  auto drafted = Make(ck, at::kBFloat16);
  Forward1(*plain, 1, {1, 2, 3, 4});
  Forward1(*drafted, 1, {1, 2, 3, 4});
  Forward1(*drafted, 1, {5, 6, 7}, /*exit=*/1);  // Early layers cache 5, 6, 7.
  EXPECT_TRUE(at::equal(Forward1(*plain, 1, {5, 6, 8}), Forward1(*drafted, 1, {5, 6, 8})));
}

INSTANTIATE_TEST_SUITE_P(Architectures, BatchInvarianceTest, ::testing::Values("llama", "gpt2"));

}  // namespace
}  // namespace tandem::model
