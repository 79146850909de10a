// The row-wise CPU kernels against their LibTorch definitions in float64.
#include "model/cpu/pointwise.h"

#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace tandem::model::cpu {
namespace {

double MaxRelErr(const at::Tensor& got, const at::Tensor& ref) {
  return ((got.to(at::kDouble) - ref).abs() / (ref.abs() + 1e-3)).max().item<double>();
}

TEST(PointwiseTest, RmsNormMatchesDefinition) {
  at::manual_seed(1);
  at::Tensor x = at::randn({3, 100}) * 3, w = at::randn({100});
  at::Tensor out = at::empty_like(x);
  RmsNorm({x.data_ptr<float>(), 3, 100}, 100, w.data_ptr<float>(), 1e-5f, {out.data_ptr<float>(), 3, 100});
  at::Tensor xd = x.to(at::kDouble);
  at::Tensor ref = w.to(at::kDouble) * xd * at::rsqrt(xd.pow(2).mean(-1, true) + 1e-5);
  EXPECT_LE(MaxRelErr(out, ref), 1e-5);
}

TEST(PointwiseTest, LayerNormMatchesTorch) {
  at::Tensor x = at::randn({2, 48}) + 5, w = at::randn({48}), b = at::randn({48});
  at::Tensor out = at::empty_like(x);
  LayerNorm({x.data_ptr<float>(), 2, 48}, 48, w.data_ptr<float>(), b.data_ptr<float>(), 1e-5f,
            {out.data_ptr<float>(), 2, 48});
  at::Tensor ref = at::layer_norm(x.to(at::kDouble), {48}, w.to(at::kDouble), b.to(at::kDouble), 1e-5);
  EXPECT_LE(MaxRelErr(out, ref), 1e-4);
}

TEST(PointwiseTest, RopeRotatesHalvesInPlace) {
  const int64_t heads = 3, d = 8;
  at::Tensor x = at::randn({heads, d});
  at::Tensor angle = at::rand({d / 2}) * 6;
  at::Tensor c = angle.cos(), s = angle.sin();
  at::Tensor ref = x.clone();
  at::Tensor lo = x.narrow(1, 0, d / 2), hi = x.narrow(1, d / 2, d / 2);
  ref.narrow(1, 0, d / 2).copy_(lo * c - hi * s);
  ref.narrow(1, d / 2, d / 2).copy_(hi * c + lo * s);
  Rope(x.data_ptr<float>(), heads, d, c.data_ptr<float>(), s.data_ptr<float>());
  EXPECT_TRUE(at::allclose(x, ref, 1e-6, 1e-6));
}

TEST(PointwiseTest, SiluMulAndGeluMatchTorch) {
  at::Tensor gu = at::randn({2, 20}) * 4;
  at::Tensor out = at::empty({2, 10});
  SiluMul({gu.data_ptr<float>(), 2, 20}, 10, {out.data_ptr<float>(), 2, 10});
  at::Tensor g = gu.narrow(1, 0, 10).to(at::kDouble), u = gu.narrow(1, 10, 10).to(at::kDouble);
  EXPECT_LE(MaxRelErr(out, at::silu(g) * u), 1e-5);
  at::Tensor x = at::randn({2, 30}) * 3;
  at::Tensor ref = at::gelu(x.to(at::kDouble), "tanh");
  GeluTanh({x.data_ptr<float>(), 2, 30}, 30);
  // 1 + tanh(.) cancels for negative inputs: float32 keeps ~1e-4 relative there.
  EXPECT_LE(MaxRelErr(x, ref), 1e-4);
  // Gemma's GeGLU.
  GeluTanhMul({gu.data_ptr<float>(), 2, 20}, 10, {out.data_ptr<float>(), 2, 10});
  EXPECT_LE(MaxRelErr(out, at::gelu(g, "tanh") * u), 1e-4);
}

TEST(PointwiseTest, AddRowsAddsWithinTheWidthOnly) {
  at::Tensor x = at::randn({3, 8}), y = at::randn({3, 8});
  at::Tensor expected = x.clone();
  expected.narrow(1, 0, 5) += y.narrow(1, 0, 5);
  AddRows({x.data_ptr<float>(), 3, 8}, {y.data_ptr<float>(), 3, 8}, 5);
  EXPECT_TRUE(at::equal(x, expected));
}

}  // namespace
}  // namespace tandem::model::cpu
