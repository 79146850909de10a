// The explorer's PNG chart, read back with cairo's own PNG reader: bars have
// the lengths the probabilities say, rows follow DisplayOrder, and errors
// name the path.
#include "tools/explorer/png_chart.h"

#include <cairo/cairo.h>

#include <cmath>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/testing/oracles.h"

namespace tandem::explorer {
namespace {

struct Image {
  cairo_surface_t* surface = nullptr;
  ~Image() {
    if (surface != nullptr) cairo_surface_destroy(surface);
  }
  int width() const { return cairo_image_surface_get_width(surface); }
  int height() const { return cairo_image_surface_get_height(surface); }
  // 0xRRGGBB of pixel (x, y).
  uint32_t At(int x, int y) const {
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    return reinterpret_cast<const uint32_t*>(data + y * stride)[x] & 0xFFFFFF;
  }
};

// Where the bar of `color` that starts at x = left on row y ends: pixels of
// `color`, and of `tick` (a sample-frequency tick may cross a bar) when more
// of `color` follows.
int RunLength(const Image& image, int left, int y, uint32_t color, uint32_t tick) {
  int end = 0;
  for (int n = 0; left + n < image.width(); ++n) {
    const uint32_t c = image.At(left + n, y);
    if (c == color) {
      end = n + 1;
    } else if (c != tick) {
      break;
    }
  }
  return end;
}

TEST(PngChartTest, BarsHaveTheLengthsOfTheProbabilities) {
  Example e;
  e.context = "The cat sat on the";
  e.labels = {"'rare'", "'mat'", "'floor'"};
  Exploration x;
  // DisplayOrder: mat (0.75), floor (0.25), rare (0).
  x.raw_probs = {0.1, 0.6, 0.3};
  x.processed_probs = {0.0, 0.75, 0.25};
  x.sample_counts = {0, 30, 10};
  x.num_samples = 40;
  x.chain = "temperature 0.5";
  const std::string path = testing::MakeTempDir("png_chart") + "/chart.png";
  ASSERT_TRUE(WriteChartPng(e, x, path).ok());

  Image image;
  image.surface = cairo_image_surface_create_from_png(path.c_str());
  ASSERT_EQ(cairo_surface_status(image.surface), CAIRO_STATUS_SUCCESS);
  const ChartLayout layout;
  EXPECT_EQ(image.width(), layout.width);
  EXPECT_EQ(image.height(), layout.header + 3 * layout.row_height + layout.footer);
  // The legend's swatches: raw, processed, sample tick.
  const uint32_t kRaw = image.At(layout.bar_left + 6, 74);
  const uint32_t kProcessed = image.At(layout.bar_left + 66, 74);
  const uint32_t kTick = image.At(layout.bar_left + 150, 74);
  EXPECT_NE(kRaw, kProcessed);
  EXPECT_NE(kTick, kProcessed);
  EXPECT_EQ(kRaw >> 16, kRaw & 0xFF) << "raw bars are grey";
  EXPECT_GT(kProcessed & 0xFF, kProcessed >> 16) << "processed bars are blue";
  const double expected_processed[] = {0.75, 0.25, 0.0};
  const double expected_raw[] = {0.6, 0.3, 0.1};
  for (int row = 0; row < 3; ++row) {
    SCOPED_TRACE(row);
    const int processed_y = layout.ProcessedBarTop(row) + ChartLayout::kBarHeight / 2;
    const int raw_y = layout.RawBarTop(row) + ChartLayout::kBarHeight / 2;
    const int processed = RunLength(image, layout.bar_left, processed_y, kProcessed, kTick);
    const int raw = RunLength(image, layout.bar_left, raw_y, kRaw, kTick);
    const double want_processed = expected_processed[row] * layout.bar_width;
    const double want_raw = expected_raw[row] * layout.bar_width;
    if (want_processed > 0) {
      EXPECT_GE(processed, want_processed - 2);
      EXPECT_LE(processed, want_processed + 1);
    } else {
      EXPECT_EQ(processed, 0);
    }
    EXPECT_GE(raw, want_raw - 2);
    EXPECT_LE(raw, want_raw + 1);
  }
  // Past the bars' ends the row is background again.
  EXPECT_NE(image.At(layout.bar_left + static_cast<int>(0.75 * layout.bar_width) + 3,
                     layout.ProcessedBarTop(0) + 2),
            kProcessed);
}

TEST(PngChartTest, RowsAreCappedAndErrorsNameThePath) {
  Example e;
  Exploration x;
  for (int i = 0; i < 10; ++i) {
    e.labels.push_back("t" + std::to_string(i));
    x.raw_probs.push_back(0.1);
    x.processed_probs.push_back(0.1);
    x.sample_counts.push_back(0);
  }
  const std::string dir = testing::MakeTempDir("png_chart");
  ASSERT_TRUE(WriteChartPng(e, x, dir + "/capped.png", /*max_rows=*/4).ok());
  Image image;
  image.surface = cairo_image_surface_create_from_png((dir + "/capped.png").c_str());
  ASSERT_EQ(cairo_surface_status(image.surface), CAIRO_STATUS_SUCCESS);
  const ChartLayout layout;
  EXPECT_EQ(image.height(), layout.header + 4 * layout.row_height + layout.footer);

  absl::Status bad = WriteChartPng(e, x, dir + "/no/such/dir/chart.png");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.message(), dir + "/no/such/dir/chart.png")) << bad;
  EXPECT_EQ(WriteChartPng(e, x, dir + "/x.png", 0).code(), absl::StatusCode::kInvalidArgument);
  x.sample_counts.pop_back();
  EXPECT_EQ(WriteChartPng(e, x, dir + "/x.png").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::explorer
