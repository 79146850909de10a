#include "tools/explorer/png_chart.h"

#include <cairo/cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tandem::explorer {
namespace {

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

void Text(cairo_t* cr, double x, double y, const std::string& text, double size,
          bool bold = false) {
  cairo_select_font_face(cr, "DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, text.c_str());
}

void Box(cairo_t* cr, double x, double y, double w, double h, double r, double g, double b) {
  cairo_set_source_rgb(cr, r, g, b);
  cairo_rectangle(cr, x, y, w, h);
  cairo_fill(cr);
}

std::string Clip(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 3) + "...";
}

std::string Percent(double p) {
  return p < 0 ? std::string("n/a") : absl::StrFormat("%.2f%%", 100 * p);
}

}  // namespace

absl::Status WriteChartPng(const Example& example, const Exploration& x, const std::string& path,
                           int max_rows, const ChartLayout& layout) {
  const size_t n = x.raw_probs.size();
  if (x.processed_probs.size() != n || x.sample_counts.size() != n ||
      example.labels.size() != n) {
    return absl::InvalidArgumentError("labels, probabilities and counts differ in length");
  }
  if (max_rows < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_rows must be >= 1, got ", max_rows));
  }
  std::vector<size_t> order = DisplayOrder(x);
  if (order.size() > static_cast<size_t>(max_rows)) order.resize(max_rows);
  const int rows = static_cast<int>(order.size());
  const int height = layout.header + rows * layout.row_height + layout.footer;

  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, layout.width, height));
  std::unique_ptr<cairo_t, ContextDeleter> context(cairo_create(surface.get()));
  cairo_t* cr = context.get();
  Box(cr, 0, 0, layout.width, height, 1, 1, 1);

  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, 12, 22, Clip(absl::StrCat("context: ", example.context), 110), 13, true);
  Text(cr, 12, 42, Clip(absl::StrCat("processors: ", x.chain), 110), 12);
  Text(cr, 12, 62,
       absl::StrFormat("entropy: raw %.3f bits -> processed %.3f bits   %d samples",
                       EntropyBits(x.raw_probs), EntropyBits(x.processed_probs),
                       x.num_samples),
       12);
  // Legend.
  Box(cr, layout.bar_left, 70, 12, 8, 0.72, 0.72, 0.72);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, layout.bar_left + 16, 78, "raw", 10);
  Box(cr, layout.bar_left + 60, 70, 12, 8, 0.16, 0.38, 0.80);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, layout.bar_left + 76, 78, "processed", 10);
  Box(cr, layout.bar_left + 150, 68, 2, 12, 0.85, 0.12, 0.12);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, layout.bar_left + 156, 78, "sample frequency", 10);

  for (int r = 0; r < rows; ++r) {
    const size_t i = order[r];
    const int top = layout.RowTop(r);
    if (r % 2 == 1) Box(cr, 0, top, layout.width, layout.row_height, 0.96, 0.96, 0.96);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    Text(cr, 12, top + 16, Clip(example.labels[i], 24), 12);
    const double raw = std::max(0.0, x.raw_probs[i]);
    const double processed = std::max(0.0, x.processed_probs[i]);
    Box(cr, layout.bar_left, layout.RawBarTop(r), std::round(raw * layout.bar_width),
        ChartLayout::kBarHeight, 0.72, 0.72, 0.72);
    Box(cr, layout.bar_left, layout.ProcessedBarTop(r), std::round(processed * layout.bar_width),
        ChartLayout::kBarHeight, 0.16, 0.38, 0.80);
    if (x.num_samples > 0 && x.sample_counts[i] > 0) {
      const double freq = static_cast<double>(x.sample_counts[i]) / x.num_samples;
      Box(cr, layout.bar_left + std::round(freq * layout.bar_width) - 1, top + 2, 2,
          layout.row_height - 4, 0.85, 0.12, 0.12);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    Text(cr, layout.bar_left + layout.bar_width + 12, top + 16,
         absl::StrFormat("%s -> %s", Percent(x.raw_probs[i]), Percent(x.processed_probs[i])), 11);
  }
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  Text(cr, 12, height - 16,
       n > order.size() ? absl::StrFormat("(%d more rows not shown)", n - order.size())
                        : std::string(x.note.empty() ? "" : Clip(x.note, 130)),
       10);
  cairo_surface_flush(surface.get());
  const cairo_status_t status = cairo_surface_write_to_png(surface.get(), path.c_str());
  if (status != CAIRO_STATUS_SUCCESS) {
    return absl::UnavailableError(
        absl::StrCat("cannot write PNG to ", path, ": ", cairo_status_to_string(status)));
  }
  return absl::OkStatus();
}

}  // namespace tandem::explorer
