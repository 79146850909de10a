// sampling_explorer: what a sampling configuration does to a next-token
// distribution, in the terminal.
//
//   bazel run //tools/explorer:sampling_explorer -- --preset=creative
//   bazel run //tools/explorer:sampling_explorer -- --logits=2,1,0.5,0 \
//       --temperature=0.5 --top_k=3 --samples=10000 --seed=7

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "sampling/sampling_params.h"
#include "tools/explorer/explorer.h"
#include "tools/explorer/png_chart.h"

ABSL_FLAG(std::string, logits, "",
          "Comma-separated logits; empty uses the built-in example vocabulary");
ABSL_FLAG(std::string, labels, "", "Comma-separated labels for --logits");
ABSL_FLAG(std::string, history, "",
          "Comma-separated token ids already in the context (for penalties); "
          "default: the built-in example's history");
ABSL_FLAG(std::string, preset, "",
          "creative | precise | balanced | deterministic; explicit flags "
          "override it");
ABSL_FLAG(double, temperature, -1, "Temperature (0 = greedy)");
ABSL_FLAG(int64_t, top_k, -1, "Top-k (0 = off)");
ABSL_FLAG(double, top_p, -1, "Top-p in (0, 1]");
ABSL_FLAG(double, min_p, -1, "Min-p in [0, 1]");
ABSL_FLAG(double, typical_p, -1, "Typical-p in (0, 1]");
ABSL_FLAG(double, repetition_penalty, -1, "Repetition penalty (> 0)");
ABSL_FLAG(double, presence_penalty, 0, "Presence penalty in [-2, 2]");
ABSL_FLAG(double, frequency_penalty, 0, "Frequency penalty in [-2, 2]");
ABSL_FLAG(int, samples, 1000, "Number of seeded samples to draw");
ABSL_FLAG(uint64_t, seed, 42, "Sampling seed");
ABSL_FLAG(int, width, 40, "Bar width in characters");
ABSL_FLAG(std::string, png, "", "Also write the chart to this PNG file");

namespace {

using tandem::sampling::SamplingParams;

absl::StatusOr<SamplingParams> ParamsFromFlags() {
  SamplingParams p;
  if (!absl::GetFlag(FLAGS_preset).empty()) {
    auto preset = tandem::sampling::ParsePreset(absl::GetFlag(FLAGS_preset));
    if (!preset.ok()) return preset.status();
    p = tandem::sampling::PresetParams(*preset);
  }
  // -1 means "not given": keep the preset's (or the default) value.
  if (absl::GetFlag(FLAGS_temperature) >= 0) p.temperature = absl::GetFlag(FLAGS_temperature);
  if (absl::GetFlag(FLAGS_top_k) >= 0) p.top_k = absl::GetFlag(FLAGS_top_k);
  if (absl::GetFlag(FLAGS_top_p) != -1) p.top_p = absl::GetFlag(FLAGS_top_p);
  if (absl::GetFlag(FLAGS_min_p) != -1) p.min_p = absl::GetFlag(FLAGS_min_p);
  if (absl::GetFlag(FLAGS_typical_p) != -1) p.typical_p = absl::GetFlag(FLAGS_typical_p);
  if (absl::GetFlag(FLAGS_repetition_penalty) != -1) {
    p.repetition_penalty = absl::GetFlag(FLAGS_repetition_penalty);
  }
  p.presence_penalty = absl::GetFlag(FLAGS_presence_penalty);
  p.frequency_penalty = absl::GetFlag(FLAGS_frequency_penalty);
  p.seed = absl::GetFlag(FLAGS_seed);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Shows a next-token distribution before and after sampling processors.");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<tandem::explorer::Example> example =
      absl::GetFlag(FLAGS_logits).empty()
          ? tandem::explorer::BuiltInExample()
          : tandem::explorer::ExampleFromLogits(absl::GetFlag(FLAGS_logits),
                                                absl::GetFlag(FLAGS_labels));
  if (!example.ok()) {
    std::cerr << "error: " << example.status().message() << "\n";
    return 2;
  }
  if (!absl::GetFlag(FLAGS_history).empty()) {
    example->history.clear();
    for (absl::string_view id : absl::StrSplit(absl::GetFlag(FLAGS_history), ',')) {
      int64_t value;
      if (!absl::SimpleAtoi(id, &value)) {
        std::cerr << "error: --history: \"" << id << "\" is not a token id\n";
        return 2;
      }
      example->history.push_back(value);
    }
    example->prompt_length = 0;
  }
  absl::StatusOr<SamplingParams> params = ParamsFromFlags();
  if (!params.ok()) {
    std::cerr << "error: " << params.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_samples) < 0 || absl::GetFlag(FLAGS_width) < 1) {
    std::cerr << "error: --samples must be >= 0 and --width >= 1\n";
    return 2;
  }
  auto exploration = tandem::explorer::Explore(*example, *params,
                                               absl::GetFlag(FLAGS_samples));
  if (!exploration.ok()) {
    std::cerr << "error: " << exploration.status().message() << "\n";
    return 2;
  }
  std::cout << tandem::explorer::Render(*example, *exploration,
                                        absl::GetFlag(FLAGS_width));
  std::cout << absl::GetFlag(FLAGS_samples) << " samples, seed "
            << absl::GetFlag(FLAGS_seed) << "\n";
  if (!absl::GetFlag(FLAGS_png).empty()) {
    absl::Status s = tandem::explorer::WriteChartPng(*example, *exploration,
                                                     absl::GetFlag(FLAGS_png));
    if (!s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
  }
  return 0;
}
