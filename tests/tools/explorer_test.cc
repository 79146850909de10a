#include "tools/explorer/explorer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::explorer {
namespace {

using ::testing::HasSubstr;

TEST(EntropyBitsTest, KnownValues) {
  EXPECT_NEAR(EntropyBits({0.25, 0.25, 0.25, 0.25}), 2.0, 1e-12);
  EXPECT_NEAR(EntropyBits({1.0, 0.0}), 0.0, 1e-12);
  EXPECT_NEAR(EntropyBits({0.5, 0.25, 0.25}), 1.5, 1e-12);
}

TEST(ExploreTest, TopKShrinksSupportAndSamplesStayInside) {
  sampling::SamplingParams p;
  p.top_k = 2;
  p.seed = 3;
  auto x = Explore(BuiltInExample(), p, 500);
  ASSERT_TRUE(x.ok()) << x.status();
  int support = 0;
  for (size_t i = 0; i < x->processed_probs.size(); ++i) {
    if (x->processed_probs[i] > 0) {
      ++support;
    } else {
      EXPECT_EQ(x->sample_counts[i], 0) << "sampled an excluded token " << i;
    }
  }
  EXPECT_EQ(support, 2);
  EXPECT_LT(EntropyBits(x->processed_probs), EntropyBits(x->raw_probs));
}

TEST(ExploreTest, SameSeedSameCounts) {
  sampling::SamplingParams p = sampling::PresetParams(sampling::Preset::kCreative);
  p.seed = 9;
  auto a = Explore(BuiltInExample(), p, 300);
  auto b = Explore(BuiltInExample(), p, 300);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->sample_counts, b->sample_counts);
}

TEST(ExploreTest, RejectsInvalidParams) {
  sampling::SamplingParams p;
  p.top_p = 0;
  EXPECT_THAT(Explore(BuiltInExample(), p, 10).status().message(),
              HasSubstr("top_p"));
}

TEST(ExampleFromLogitsTest, ParsesAndValidates) {
  auto e = ExampleFromLogits("1,2.5,-3", "");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->labels[2], "tok2");
  EXPECT_FALSE(ExampleFromLogits("1,abc", "").ok());
  EXPECT_THAT(ExampleFromLogits("1,2", "a").status().message(),
              HasSubstr("--labels"));
}

TEST(RenderTest, ShowsEveryTokenAndEntropy) {
  sampling::SamplingParams p;
  p.seed = 1;
  const Example e = BuiltInExample();
  auto x = Explore(e, p, 100);
  ASSERT_TRUE(x.ok());
  const std::string out = Render(e, *x, 20);
  for (const std::string& label : e.labels) EXPECT_THAT(out, HasSubstr(label));
  EXPECT_THAT(out, HasSubstr("entropy: raw"));
  EXPECT_THAT(out, HasSubstr("█"));
}

}  // namespace
}  // namespace tandem::explorer
