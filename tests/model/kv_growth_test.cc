// KV caches that grow on demand and a KV budget (issue 12 §2's admission by
// memory): a sequence's cache holds what it needs, in blocks of
// kKvBlockPositions, growing as it lengthens; growth never changes a logit;
// Reserve admits a session for its whole length up front or refuses it
// RESOURCE_EXHAUSTED naming the budget, and nothing allocates past it.
#include <cstdint>
#include <memory>
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

constexpr int64_t kContext = 300;

struct Variant {
  std::string name;
  ModelConfig config;
  bool torch_ops = false;
};

std::vector<Variant> Variants() {
  ModelConfig llama = testing::TinyLlamaConfig();
  llama.max_position_embeddings = kContext;
  ModelConfig gpt2 = testing::TinyGpt2Config();
  gpt2.max_position_embeddings = kContext;
  return {{"llama_cpu", llama}, {"llama_torch_ops", llama, true}, {"gpt2_cpu", gpt2}};
}

class KvGrowthTest : public ::testing::TestWithParam<Variant> {
 protected:
  std::unique_ptr<TransformerModel> Make(int64_t budget = 0) {
    TransformerOptions options;
    options.torch_ops = GetParam().torch_ops;
    options.kv_budget_bytes = budget;
    auto m = TransformerModel::Create(RandomCheckpoint(GetParam().config, 77), options);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *std::move(m) : nullptr;
  }

  int64_t Token(int i) const { return (i * 31 + 7) % GetParam().config.vocab_size; }
};

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST_P(KvGrowthTest, GrowthIsInvisibleToTheLogits) {
  std::unique_ptr<TransformerModel> m = Make();
  ASSERT_NE(m, nullptr);
  const int64_t bpt = m->info().kv_bytes_per_token;
  std::vector<int64_t> prompt = {Token(0), Token(1), Token(2), Token(3), Token(4)};
  // 1: grows from one block as it decodes; 2: reserved for everything up front.
  ASSERT_TRUE(m->Reserve(2, 200).ok());
  EXPECT_EQ(m->kv_cache_bytes(), 256 * bpt);  // 200 rounded up to blocks of 64.
  auto a = m->ForwardOne(1, prompt);
  auto b = m->ForwardOne(2, prompt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(m->kv_cache_bytes(), (256 + 64) * bpt);
  for (int i = 5; i < 200; ++i) {
    a = m->ForwardOne(1, {Token(i)});
    b = m->ForwardOne(2, {Token(i)});
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(MaxDiff(*a, *b), 0.0) << "position " << i;
  }
  // Sequence 1 doubled 64 -> 128 -> 256.
  EXPECT_EQ(m->kv_cache_bytes(), 2 * 256 * bpt);
  // A truncated, regrown cache still agrees.
  ASSERT_TRUE(m->Truncate(1, 60).ok());
  ASSERT_TRUE(m->Truncate(2, 60).ok());
  a = m->ForwardOne(1, {Token(3)});
  b = m->ForwardOne(2, {Token(3)});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(MaxDiff(*a, *b), 0.0);
}

TEST_P(KvGrowthTest, EarlyExitStatesGrowWithTheCache) {
  if (GetParam().config.num_hidden_layers < 2) GTEST_SKIP() << "needs two layers";
  std::unique_ptr<TransformerModel> m = Make();
  ASSERT_NE(m, nullptr);
  std::vector<int64_t> all;
  for (int i = 0; i < 6; ++i) all.push_back(Token(i));
  ASSERT_TRUE(m->ForwardOne(1, all).ok());
  ASSERT_TRUE(m->ForwardOne(1, {Token(6)}, /*exit_layer=*/1).ok());  // Saves hidden states.
  // Past the first block, then draft early and verify in full again.
  std::vector<int64_t> more;
  for (int i = 6; i < 100; ++i) more.push_back(Token(i));
  ASSERT_TRUE(m->ForwardOne(1, more).ok());
  all.insert(all.end(), more.begin(), more.end());
  ASSERT_TRUE(m->ForwardOne(1, {Token(100)}, 1).ok());
  ASSERT_TRUE(m->ForwardOne(1, {Token(101)}, 1).ok());
  const std::vector<int64_t> verify = {Token(100), Token(101), Token(102)};
  auto got = m->ForwardOne(1, verify);
  ASSERT_TRUE(got.ok()) << got.status();
  all.insert(all.end(), verify.begin(), verify.end());
  auto reference = m->ForwardOne(9, all);
  ASSERT_TRUE(reference.ok());
  EXPECT_LE(MaxDiff(*got, reference->narrow(0, 100, 3)), 1e-5);
}

TEST_P(KvGrowthTest, BudgetAdmitsReservationsAndRefusesNamingIt) {
  const int64_t bpt = Make()->info().kv_bytes_per_token;
  const int64_t budget = 3 * 128 * bpt;
  std::unique_ptr<TransformerModel> m = Make(budget);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kv_budget_bytes(), budget);
  for (SequenceId id : {1, 2, 3}) ASSERT_TRUE(m->Reserve(id, 128).ok()) << id;
  EXPECT_EQ(m->kv_cache_bytes(), budget);
  absl::Status full = m->Reserve(4, 10);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.message()),
              HasSubstr("KV cache budget of " + std::to_string(budget) + " bytes"));
  // A new sequence through Forward is refused the same way, and nothing moved.
  EXPECT_EQ(m->ForwardOne(5, {Token(0)}).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(m->num_sequences(), 3);
  // A reserved sequence runs its whole reservation with the budget full.
  std::vector<int64_t> tokens;
  for (int i = 0; i < 128; ++i) tokens.push_back(Token(i));
  ASSERT_TRUE(m->ForwardOne(1, tokens).ok());
  EXPECT_EQ(m->kv_cache_bytes(), budget);
  // Past it, growth needs budget it does not have.
  EXPECT_EQ(m->ForwardOne(1, {Token(0)}).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(m->Length(1), 128);
  // Releasing one frees its share for a newcomer.
  m->Release(2);
  EXPECT_TRUE(m->Reserve(4, 100).ok());
  EXPECT_LE(m->kv_cache_bytes(), budget);
  // Reservations stay inside the context.
  EXPECT_EQ(m->Reserve(6, kContext + 1).code(), absl::StatusCode::kOutOfRange);
}

INSTANTIATE_TEST_SUITE_P(Variants, KvGrowthTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tandem::model
