// cpu::Attention against a float64 LibTorch softmax(QK^T)V, with GQA, rows
// from several caches in one call, and bitwise batch invariance.
#include "model/cpu/attention.h"

#include <cmath>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace tandem::model::cpu {
namespace {

constexpr int64_t kCapacity = 70;

struct Cache {
  at::Tensor keys, values;  // [kv, capacity, d] float32
};

Cache RandomCache(int64_t kv, int64_t d) {
  return {at::randn({kv, kCapacity, d}), at::randn({kv, kCapacity, d})};
}

AttentionRow RowOf(const Cache& c, int64_t visible) {
  return {c.keys.data_ptr<float>(), c.values.data_ptr<float>(), c.keys.stride(0), visible};
}

// [heads * d] for one query row, float64; softcap > 0: cap * tanh(s / cap)
// on the scaled scores.
at::Tensor Reference(const at::Tensor& q, const Cache& c, int64_t visible, int64_t heads,
                     double softcap = 0) {
  const int64_t kv = c.keys.size(0), d = c.keys.size(2);
  at::Tensor qd = q.to(at::kDouble).view({heads, 1, d});
  at::Tensor k = c.keys.narrow(1, 0, visible).to(at::kDouble).repeat_interleave(heads / kv, 0);
  at::Tensor v = c.values.narrow(1, 0, visible).to(at::kDouble).repeat_interleave(heads / kv, 0);
  at::Tensor s = at::matmul(qd, k.transpose(1, 2)) / std::sqrt(double(d));
  if (softcap > 0) s = at::tanh(s / softcap) * softcap;
  return at::matmul(s.softmax(-1), v).view({heads * d});
}

struct Shape {
  int64_t heads, kv, d;
};

class AttentionTest : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionTest, MatchesFloat64ReferenceAcrossCaches) {
  const auto [heads, kv, d] = GetParam();
  at::manual_seed(3);
  std::vector<Cache> caches = {RandomCache(kv, d), RandomCache(kv, d)};
  const std::vector<std::pair<int, int64_t>> rows = {{0, 1}, {0, 2}, {1, 17}, {0, 70}, {1, 33}};
  at::Tensor q = at::randn({static_cast<int64_t>(rows.size()), heads * d});
  std::vector<AttentionRow> spans;
  for (auto [c, visible] : rows) spans.push_back(RowOf(caches[c], visible));
  at::Tensor out = at::empty_like(q);
  const AttentionShape shape{heads, kv, d, static_cast<float>(1.0 / std::sqrt(double(d)))};
  Attention(shape, q.data_ptr<float>(), q.stride(0), spans, out.data_ptr<float>(), out.stride(0));
  for (size_t r = 0; r < rows.size(); ++r) {
    at::Tensor ref = Reference(q[r], caches[rows[r].first], rows[r].second, heads);
    const double err = (out[r].to(at::kDouble) - ref).abs().max().item<double>();
    EXPECT_LE(err, 2e-6) << "row " << r;
    // Each row alone gives the same bits as inside the batch.
    at::Tensor alone = at::empty({1, heads * d});
    Attention(shape, q[r].data_ptr<float>(), q.stride(0), {spans[r]}, alone.data_ptr<float>(),
              alone.stride(0));
    EXPECT_TRUE(at::equal(alone[0], out[r])) << "row " << r;
  }
  // A single visible position returns its value vector exactly.
  EXPECT_TRUE(at::allclose(out[0].view({heads, d})[0], caches[0].values[0][0], 0, 1e-6));
}

// Gemma 2's score soft-cap: matches the capped reference and differs from
// the uncapped one (the scaled scores of 3x queries exceed the cap of 1).
TEST_P(AttentionTest, SoftCapBendsScoresBeforeTheSoftmax) {
  const auto [heads, kv, d] = GetParam();
  at::manual_seed(5);
  Cache c = RandomCache(kv, d);
  at::Tensor q = at::randn({2, heads * d}) * 3;
  const std::vector<int64_t> visible = {9, 40};
  std::vector<AttentionRow> spans = {RowOf(c, visible[0]), RowOf(c, visible[1])};
  at::Tensor out = at::empty_like(q);
  const AttentionShape shape{heads, kv, d, static_cast<float>(1.0 / std::sqrt(double(d))), 1.0f};
  Attention(shape, q.data_ptr<float>(), q.stride(0), spans, out.data_ptr<float>(), out.stride(0));
  for (int64_t r = 0; r < 2; ++r) {
    const at::Tensor capped = Reference(q[r], c, visible[r], heads, 1.0);
    const at::Tensor plain = Reference(q[r], c, visible[r], heads);
    EXPECT_LE((out[r].to(at::kDouble) - capped).abs().max().item<double>(), 2e-6) << r;
    EXPECT_GT((out[r].to(at::kDouble) - plain).abs().max().item<double>(), 1e-2) << r;
  }
}

TEST_P(AttentionTest, ThreadCountDoesNotChangeResults) {
  const auto [heads, kv, d] = GetParam();
  Cache c = RandomCache(kv, d);
  at::Tensor q = at::randn({6, heads * d});
  std::vector<AttentionRow> spans;
  for (int64_t r = 0; r < 6; ++r) spans.push_back(RowOf(c, 60 + r));
  const AttentionShape shape{heads, kv, d, 0.125f};
  auto run = [&] {
    at::Tensor out = at::empty_like(q);
    Attention(shape, q.data_ptr<float>(), q.stride(0), spans, out.data_ptr<float>(), out.stride(0));
    return out;
  };
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::Tensor one = run();
  at::set_num_threads(2);
  at::Tensor two = run();
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, two));
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(Shape{4, 4, 16}, Shape{8, 2, 64}, Shape{3, 1, 24},
                                           Shape{2, 2, 128}, Shape{2, 1, 7}));

}  // namespace
}  // namespace tandem::model::cpu
