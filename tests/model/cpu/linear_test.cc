// cpu::Linear against a float64 LibTorch product, and its batch invariance:
// a row's output is bit-identical whatever else is in the call and however
// many threads run it.
#include "model/cpu/linear.h"

#include <cmath>
#include <string>
#include <tuple>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace tandem::model::cpu {
namespace {

struct Case {
  at::ScalarType dtype;
  int64_t out;
  int64_t in;
};

class LinearTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    at::manual_seed(7);
    weight_ = at::randn({GetParam().out, GetParam().in}).to(GetParam().dtype);
    packed_ = Pack(weight_);
    bias_ = at::randn({GetParam().out});
  }

  // y = x W^T (+ bias) through the kernel, float32.
  at::Tensor Run(const at::Tensor& x, bool with_bias) {
    at::Tensor y = at::empty({x.size(0), GetParam().out});
    Linear({x.data_ptr<float>(), x.size(0), x.stride(0), &packed_,
            with_bias ? bias_.data_ptr<float>() : nullptr, y.data_ptr<float>(), y.stride(0),
            false});
    return y;
  }

  at::Tensor weight_, bias_;
  PackedWeight packed_;
};

TEST_P(LinearTest, MatchesFloat64ProductWithinFloat32DotBound) {
  for (int64_t rows : {1, 2, 5, 9, 40}) {
    at::Tensor x = at::randn({rows, GetParam().in});
    at::Tensor y = Run(x, /*with_bias=*/true);
    at::Tensor xd = x.to(at::kDouble), wd = weight_.to(at::kDouble);
    at::Tensor ref = at::matmul(xd, wd.t()) + bias_.to(at::kDouble);
    // Rigorous float32 bound for a K-term dot (+ the 16-lane tree and bias):
    // |err| <= (K + 6) * 2^-24 * (sum |x_i w_i| + |b|).
    at::Tensor scale = at::matmul(xd.abs(), wd.abs().t()) + bias_.to(at::kDouble).abs();
    const double gamma = (GetParam().in + 6) * std::ldexp(1.0, -24);
    at::Tensor excess = (y.to(at::kDouble) - ref).abs() - gamma * scale;
    EXPECT_LE(excess.max().item<double>(), 0.0) << "rows " << rows;
  }
}

TEST_P(LinearTest, RowIsBitIdenticalAloneAndInAnyBatch) {
  at::Tensor x = at::randn({13, GetParam().in});
  at::Tensor batched = Run(x, true);
  for (int64_t r = 0; r < x.size(0); ++r) {
    at::Tensor alone = Run(x.narrow(0, r, 1).contiguous(), true);
    ASSERT_TRUE(at::equal(alone[0], batched[r])) << "row " << r;
  }
  // Same rows at other offsets of a different batch.
  at::Tensor shuffled = at::cat({x.narrow(0, 7, 6), at::randn({3, GetParam().in}), x.narrow(0, 0, 7)});
  at::Tensor out = Run(shuffled, true);
  EXPECT_TRUE(at::equal(out.narrow(0, 0, 6), batched.narrow(0, 7, 6)));
  EXPECT_TRUE(at::equal(out.narrow(0, 9, 7), batched.narrow(0, 0, 7)));
}

TEST_P(LinearTest, ThreadCountDoesNotChangeResults) {
  at::Tensor x = at::randn({7, GetParam().in});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::Tensor one = Run(x, true);
  at::set_num_threads(2);
  at::Tensor two = Run(x, true);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, two));
}

TEST_P(LinearTest, AccumulateAddsToOutput) {
  at::Tensor x = at::randn({3, GetParam().in});
  at::Tensor expected = Run(x, false);
  at::Tensor y = at::full({3, GetParam().out}, 2.0f);
  Linear({x.data_ptr<float>(), 3, x.stride(0), &packed_, nullptr, y.data_ptr<float>(),
          y.stride(0), /*accumulate=*/true});
  EXPECT_TRUE(at::equal(y, expected + 2.0f));
}

TEST(LinearPackTest, RejectsUnsupportedTensors) {
  EXPECT_THROW(Pack(at::zeros({4, 4}, at::kDouble)), c10::Error);
  EXPECT_THROW(Pack(at::zeros({4})), c10::Error);
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (at::ScalarType t : {at::kFloat, at::kBFloat16, at::kHalf}) {
    for (auto [out, in] : {std::pair<int64_t, int64_t>{1, 1}, {3, 17}, {8, 16}, {37, 100},
                           {130, 512}, {64, 33}}) {
      cases.push_back({t, out, in});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) {
                           return std::string(c10::toString(info.param.dtype)) + "_" +
                                  std::to_string(info.param.out) + "x" +
                                  std::to_string(info.param.in);
                         });

}  // namespace
}  // namespace tandem::model::cpu
