#ifndef TANDEM_TOOLS_EXPLORER_PNG_CHART_H_
#define TANDEM_TOOLS_EXPLORER_PNG_CHART_H_

// The explorer's report as a PNG bar chart (cairo): one row per token in
// DisplayOrder, each with a grey bar for the raw probability, a blue bar for
// the processed probability and a red tick at the sampled frequency; the
// context, processors and entropies above.

#include <string>

#include "absl/status/status.h"
#include "tools/explorer/explorer.h"

namespace tandem::explorer {

// The chart's geometry, in pixels (public so tests can read bars back).
struct ChartLayout {
  int width = 960;
  int header = 86;       // Rows start below the header.
  int row_height = 24;
  int bar_left = 220;    // Bars start here; labels are left of it.
  int bar_width = 560;   // Probability 1 spans this many pixels.
  int footer = 40;

  int RowTop(int row) const { return header + row * row_height; }
  // The vertical extent of row `row`'s raw and processed bars.
  int RawBarTop(int row) const { return RowTop(row) + 3; }
  int ProcessedBarTop(int row) const { return RowTop(row) + 12; }
  static constexpr int kBarHeight = 8;
};

// Writes at most `max_rows` rows (>= 1) to `path`. InvalidArgument for
// mismatched vectors or max_rows < 1; Unavailable naming the path (and
// cairo's reason) if the file cannot be written.
absl::Status WriteChartPng(const Example& example, const Exploration& exploration,
                           const std::string& path, int max_rows = 40,
                           const ChartLayout& layout = ChartLayout());

}  // namespace tandem::explorer

#endif  // TANDEM_TOOLS_EXPLORER_PNG_CHART_H_
