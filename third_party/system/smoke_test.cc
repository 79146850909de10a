#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include "absl/status/status.h"
TEST(Smoke, Works) { EXPECT_EQ(at::ones({2}).sum().item<float>(), 2.f); EXPECT_TRUE(absl::OkStatus().ok()); }
