#include "tools/explorer/explorer.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "sampling/rng.h"
#include "sampling/selector.h"

namespace tandem::explorer {
namespace {

std::vector<double> ToProbs(const at::Tensor& logits_row) {
  at::Tensor p = logits_row.softmax(-1).to(at::kDouble).contiguous();
  return std::vector<double>(p.data_ptr<double>(),
                             p.data_ptr<double>() + p.numel());
}

std::string Bar(double fraction, int width) {
  const int eighths = static_cast<int>(std::lround(fraction * width * 8));
  static const char* kParts[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  std::string bar;
  for (int i = 0; i < eighths / 8; ++i) bar += "█";
  bar += kParts[eighths % 8];
  const int used = eighths / 8 + (eighths % 8 ? 1 : 0);
  bar += std::string(std::max(0, width - used), ' ');
  return bar;
}

std::string Percent(double p) {
  return p < 0 ? std::string("    n/a") : absl::StrFormat("%6.2f%%", 100 * p);
}

}  // namespace

std::vector<size_t> DisplayOrder(const Exploration& x) {
  std::vector<size_t> order(x.raw_probs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return x.processed_probs[a] > x.processed_probs[b] ||
           (x.processed_probs[a] == x.processed_probs[b] &&
            x.raw_probs[a] > x.raw_probs[b]);
  });
  return order;
}

Example BuiltInExample() {
  Example e;
  e.context = "The cat sat on the";
  e.labels = {"mat", "floor", "sofa", "roof", "bed", "table",
              "chair", "moon", "keyboard", "the", "dog", "quantum"};
  e.logits = {3.2f, 2.6f, 2.3f, 1.9f, 1.8f, 1.5f,
              1.4f, 0.3f, 0.9f, -0.5f, 0.2f, -2.0f};
  // "The cat sat on the mat . The cat sat on the": ids of "the" and "mat".
  e.history = {9, 0, 9};
  e.prompt_length = 3;
  return e;
}

absl::StatusOr<Example> ExampleFromLogits(const std::string& logits_csv,
                                          const std::string& labels_csv) {
  Example e;
  e.context = "(logits from --logits)";
  for (absl::string_view field : absl::StrSplit(logits_csv, ',')) {
    float value;
    if (!absl::SimpleAtof(field, &value) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--logits: \"", field, "\" is not a finite number"));
    }
    e.logits.push_back(value);
  }
  if (e.logits.size() < 2) {
    return absl::InvalidArgumentError("--logits needs at least 2 values");
  }
  if (!labels_csv.empty()) {
    e.labels = absl::StrSplit(labels_csv, ',');
    if (e.labels.size() != e.logits.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--labels has ", e.labels.size(), " entries but --logits has ",
          e.logits.size()));
    }
  } else {
    for (size_t i = 0; i < e.logits.size(); ++i) {
      e.labels.push_back(absl::StrCat("tok", i));
    }
  }
  return e;
}

absl::StatusOr<Exploration> Explore(const Example& example,
                                    const sampling::SamplingParams& params,
                                    int num_samples) {
  const int64_t vocab = static_cast<int64_t>(example.logits.size());
  if (absl::Status s = sampling::ValidateSamplingParams(params, vocab);
      !s.ok()) {
    return s;
  }
  for (int64_t id : example.history) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          "history token ", id, " is outside [0, ", vocab, ")"));
    }
  }
  auto selector = sampling::TokenSelector::Create(params);
  if (!selector.ok()) return selector.status();
  at::Tensor raw = at::empty({1, vocab}, at::kFloat);
  std::copy(example.logits.begin(), example.logits.end(),
            raw.data_ptr<float>());
  const std::vector<sampling::TokenHistory> histories = {
      {example.history, example.prompt_length}};
  auto processed = (*selector)->Process(histories, raw);
  if (!processed.ok()) return processed.status();

  Exploration x;
  x.chain = (*selector)->chain().Name();
  x.raw_probs = ToProbs(raw[0]);
  x.processed_probs = ToProbs((*processed)[0]);
  x.num_samples = num_samples;
  x.sample_counts.assign(vocab, 0);
  // Independent seeded draws from the processed distribution: draw i uses the
  // uniform the Rng keys to position i (rng.h).
  const sampling::Rng rng(params.seed.value_or(0));
  const at::Tensor weights = (*processed)[0].log_softmax(-1).exp();
  for (int i = 0; i < num_samples; ++i) {
    absl::StatusOr<int64_t> token =
        (*selector)->params().greedy()
            ? sampling::ArgmaxToken((*processed)[0])
            : sampling::SampleToken(weights, rng, i, sampling::RandomPurpose::kSample);
    if (!token.ok()) return token.status();
    ++x.sample_counts[*token];
  }
  return x;
}

double EntropyBits(const std::vector<double>& probs) {
  double h = 0.0;
  for (double p : probs) {
    if (p > 0.0) h -= p * std::log2(p);
  }
  return h;
}

std::string Render(const Example& example, const Exploration& x,
                   int bar_width) {
  size_t label_width = 5;
  for (const std::string& l : example.labels) {
    label_width = std::max(label_width, l.size());
  }
  std::string out = absl::StrCat("context:    ", example.context, "\n",
                                 "processors: ", x.chain, "\n\n");
  absl::StrAppend(&out, absl::StrFormat("%-*s  %7s  %-*s %7s  %s\n",
                                        label_width, "token", "raw",
                                        bar_width, "processed", "p",
                                        "samples"));
  for (size_t i : DisplayOrder(x)) {
    const double freq =
        x.num_samples > 0
            ? static_cast<double>(x.sample_counts[i]) / x.num_samples
            : 0.0;
    absl::StrAppend(
        &out, absl::StrFormat("%-*s  %s  %s %s  %6d (%5.1f%%)\n",
                              label_width, example.labels[i],
                              Percent(x.raw_probs[i]),
                              Bar(std::max(0.0, x.processed_probs[i]), bar_width),
                              Percent(x.processed_probs[i]), x.sample_counts[i],
                              100 * freq));
  }
  absl::StrAppend(
      &out, absl::StrFormat("\nentropy: raw %.3f bits -> processed %.3f bits",
                            EntropyBits(x.raw_probs),
                            EntropyBits(x.processed_probs)));
  size_t support = 0;
  for (double p : x.processed_probs) support += p > 0.0;
  absl::StrAppend(&out, absl::StrFormat("   support: %d of %d tokens\n",
                                        support, x.processed_probs.size()));
  if (!x.note.empty()) absl::StrAppend(&out, x.note, "\n");
  return out;
}

}  // namespace tandem::explorer
