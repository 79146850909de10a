// The --relevance_html page in a real browser: headless Chromium loads it
// with `?token=N` (the page's own JavaScript selects that token as a hover
// would), screenshots it, and the PNG must show the token's sources
// highlighted (red: positive, blue: negative) where the unselected page
// shows none. Skips only when `chromium` is not installed
// (scripts/setup.sh installs it).
#include <cairo/cairo.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/relevance_html.h"
#include "client/relevance_view.h"
#include "tests/testing/oracles.h"

namespace tandem::client {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";

struct Counts {
  int red = 0;   // Strong positive highlight.
  int blue = 0;  // Negative highlight.
};

RelevanceDocument Example() {
  RelevanceDocument d;
  d.pieces = {"In", " the", " beginning", " was", " the", " word", " and", " the", " word"};
  d.first_generated = 6;
  d.sources = {{{5, 3.0}, {1, -1.5}, {2, 0.3}},
               {{6, 1.0}},
               {{4, 2.0}, {0, -2.0}}};
  return d;
}

// Screenshots `url`; the counts of highlighted pixels, or nullopt on failure.
std::optional<Counts> Screenshot(const std::string& dir, const std::string& url,
                                 const std::string& name) {
  const std::string png = absl::StrCat(dir, "/", name, ".png");
  const std::string command = absl::StrCat(
      "HOME=", dir, " ", kChromium,
      " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run"
      " --run-all-compositor-stages-before-draw --virtual-time-budget=3000"
      " --user-data-dir=", dir, "/profile-", name, " --window-size=900,360 --screenshot=", png,
      " '", url, "' > ", dir, "/", name, ".log 2>&1");
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "chromium failed: " << command;
    return std::nullopt;
  }
  cairo_surface_t* surface = cairo_image_surface_create_from_png(png.c_str());
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    ADD_FAILURE() << "cannot read " << png;
    cairo_surface_destroy(surface);
    return std::nullopt;
  }
  cairo_surface_flush(surface);
  const int width = cairo_image_surface_get_width(surface);
  const int height = cairo_image_surface_get_height(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  Counts counts;
  for (int y = 0; y < height; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + y * stride);
    for (int x = 0; x < width; ++x) {
      const int r = (row[x] >> 16) & 0xFF, g = (row[x] >> 8) & 0xFF, b = row[x] & 0xFF;
      if (r > 180 && g < 90 && b < 90) ++counts.red;
      if (b > 200 && r < 160 && g < 200) ++counts.blue;
    }
  }
  cairo_surface_destroy(surface);
  return counts;
}

TEST(RelevanceHtmlChromiumTest, PreselectedTokenHighlightsItsSources) {
  if (access(kChromium, X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is missing: install the Debian package `chromium` "
                 << "(scripts/setup.sh does)";
  }
  const std::string dir = testing::MakeTempDir("relevance_html");
  const std::string page = dir + "/page.html";
  std::ofstream(page) << RenderHtml(Example(), "relevance");
  const std::optional<Counts> none = Screenshot(dir, "file://" + page, "none");
  // Token 6 (" and"): +3 on " word", -1.5 on " the".
  const std::optional<Counts> first = Screenshot(dir, "file://" + page + "?token=6", "first");
  // Token 7 (" the"): only +1 on " and".
  const std::optional<Counts> second = Screenshot(dir, "file://" + page + "?token=7", "second");
  ASSERT_TRUE(none && first && second);
  std::printf("highlighted pixels red/blue: none %d/%d, token 6 %d/%d, token 7 %d/%d\n",
              none->red, none->blue, first->red, first->blue, second->red, second->blue);
  // The legend's swatches are there on every page; selections add to them.
  EXPECT_GT(first->red, none->red + 200);
  EXPECT_GT(first->blue, none->blue + 100);
  EXPECT_GT(second->red, none->red + 100);
  EXPECT_LE(second->blue, none->blue + 10);  // Token 7 has no negative source.
}

}  // namespace
}  // namespace tandem::client
