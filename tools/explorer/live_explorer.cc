#include "tools/explorer/live_explorer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tandem::explorer {
namespace {

// Remaining mass below this is rounding: the lists then cover the whole
// distribution.
constexpr double kNegligibleMass = 1e-6;
constexpr int kMaxSamples = 100000;

std::string Label(const v1::TokenLogprob& t) {
  if (t.piece().empty()) return absl::StrCat("#", t.token_id());
  std::string shown = absl::CHexEscape(t.piece());
  if (shown.size() > 24) shown = shown.substr(0, 21) + "...";
  return absl::StrCat("'", shown, "'");
}

}  // namespace

std::string DescribeSampling(const v1::SamplingParams& s) {
  std::vector<std::string> parts;
  if (s.preset() != v1::SAMPLING_PRESET_UNSPECIFIED) {
    parts.push_back(absl::StrCat("preset ", v1::SamplingPreset_Name(s.preset())));
  }
  if (s.has_temperature()) parts.push_back(absl::StrFormat("temperature %g", s.temperature()));
  if (s.has_top_k()) parts.push_back(absl::StrCat("top_k ", s.top_k()));
  if (s.has_top_p()) parts.push_back(absl::StrFormat("top_p %g", s.top_p()));
  if (s.has_min_p()) parts.push_back(absl::StrFormat("min_p %g", s.min_p()));
  if (s.has_typical_p()) parts.push_back(absl::StrFormat("typical_p %g", s.typical_p()));
  if (s.has_repetition_penalty()) {
    parts.push_back(absl::StrFormat("repetition_penalty %g", s.repetition_penalty()));
  }
  if (s.has_presence_penalty()) {
    parts.push_back(absl::StrFormat("presence_penalty %g", s.presence_penalty()));
  }
  if (s.has_frequency_penalty()) {
    parts.push_back(absl::StrFormat("frequency_penalty %g", s.frequency_penalty()));
  }
  if (parts.empty()) return "the server's defaults";
  return absl::StrJoin(parts, ", ");
}

bool IsGreedy(const client::GenerateOptions& request) {
  if (request.temperature) return *request.temperature == 0.0f;
  return request.preset == "deterministic";
}

absl::StatusOr<LiveView> BuildLiveView(const std::string& context,
                                       const v1::GeneratedToken& first,
                                       const std::vector<uint32_t>& sampled,
                                       const std::string& processors) {
  if (first.raw_distribution().empty()) {
    return absl::InvalidArgumentError(
        "the server returned no raw_distribution: it predates OutputOptions.distribution_top_n");
  }
  LiveView view;
  view.example.context = context;
  Exploration& x = view.exploration;
  x.chain = processors;
  absl::flat_hash_map<uint32_t, size_t> row_of;
  auto row = [&](const v1::TokenLogprob& t) {
    auto [it, inserted] = row_of.try_emplace(t.token_id(), x.raw_probs.size());
    if (inserted) {
      view.example.labels.push_back(Label(t));
      x.raw_probs.push_back(-1.0);
      x.processed_probs.push_back(-1.0);
      x.sample_counts.push_back(0);
    }
    return it->second;
  };
  double raw_listed = 0.0, processed_listed = 0.0;
  for (const v1::TokenLogprob& t : first.raw_distribution()) {
    const double p = std::exp(static_cast<double>(t.logprob()));
    x.raw_probs[row(t)] = p;
    raw_listed += p;
  }
  for (const v1::TokenLogprob& t : first.processed_distribution()) {
    const double p = std::exp(static_cast<double>(t.logprob()));
    x.processed_probs[row(t)] = p;
    processed_listed += p;
  }
  // The processed list leaves out impossible tokens: a raw-listed token
  // missing from it is known to have processed probability 0 only when the
  // processed list was not cut at top_n.
  const bool processed_complete = 1.0 - processed_listed < kNegligibleMass;
  for (double& p : x.processed_probs) {
    if (p < 0 && processed_complete) p = 0.0;
  }
  int64_t other_samples = 0;
  for (uint32_t id : sampled) {
    auto it = row_of.find(id);
    if (it == row_of.end()) {
      ++other_samples;
    } else {
      ++x.sample_counts[it->second];
    }
  }
  const double raw_rest = std::max(0.0, 1.0 - raw_listed);
  const double processed_rest = std::max(0.0, 1.0 - processed_listed);
  const bool raw_complete = raw_rest < kNegligibleMass;
  if (!raw_complete || !processed_complete || other_samples > 0) {
    view.example.labels.push_back("(other)");
    x.raw_probs.push_back(raw_rest);
    x.processed_probs.push_back(processed_rest);
    x.sample_counts.push_back(other_samples);
  }
  x.num_samples = static_cast<int>(sampled.size());
  if (!raw_complete || !processed_complete) {
    const std::string which = !processed_complete ? (!raw_complete ? "both lists" : "processed")
                                                  : "raw";
    x.note = absl::StrFormat(
        "(%s: the top %d tokens, the rest in \"(other)\"; entropy is a lower bound, raise --top_n)",
        which, std::max(first.raw_distribution_size(), first.processed_distribution_size()));
  }
  return view;
}

absl::StatusOr<LiveView> ExploreLive(client::TandemClient& client, const LiveOptions& o) {
  // The upper bound is the server's (OutputOptions.distribution_top_n).
  if (o.top_n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--top_n must be >= 1, got ", o.top_n));
  }
  if (o.samples < 0 || o.samples > kMaxSamples) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples must be in [0, ", kMaxSamples, "], got ", o.samples));
  }
  if (o.batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch must be >= 1, got ", o.batch));
  }
  if (o.request.prompts.size() + o.request.prompt_token_ids.size() != 1) {
    return absl::InvalidArgumentError("explore needs exactly one prompt");
  }
  client::GenerateOptions base = o.request;
  base.max_new_tokens = 1;
  base.min_new_tokens = 0;
  base.stop_strings.clear();
  base.logprobs = 0;
  base.speculation_stats = false;

  client::GenerateOptions dist = base;
  dist.num_return_sequences = 1;
  dist.distribution_top_n = static_cast<uint32_t>(o.top_n);
  dist.seed = o.seed;
  absl::StatusOr<v1::GenerateRequest> request = client::BuildRequest(dist);
  if (!request.ok()) return request.status();
  absl::StatusOr<v1::GenerateResponse> response = client.Generate(*request, o.timeout);
  if (!response.ok()) return response.status();
  if (response->sequences_size() != 1 || response->sequences(0).tokens_size() < 1) {
    return absl::InternalError("the server returned no generated token");
  }
  const v1::GeneratedToken first = response->sequences(0).tokens(0);
  const std::string processors = DescribeSampling(request->config().sampling());

  std::vector<uint32_t> sampled;
  sampled.reserve(o.samples);
  const bool greedy = IsGreedy(o.request);
  for (int done = 0; done < o.samples;) {
    client::GenerateOptions draw = base;
    draw.num_return_sequences = greedy ? 1 : std::min(o.batch, o.samples - done);
    draw.seed = o.seed + static_cast<uint64_t>(done);
    absl::StatusOr<v1::GenerateRequest> r = client::BuildRequest(draw);
    if (!r.ok()) return r.status();
    absl::StatusOr<v1::GenerateResponse> drawn = client.Generate(*r, o.timeout);
    if (!drawn.ok()) return drawn.status();
    for (const v1::GeneratedSequence& s : drawn->sequences()) {
      if (s.tokens_size() < 1) continue;
      const int copies = greedy ? o.samples : 1;
      for (int c = 0; c < copies; ++c) sampled.push_back(s.tokens(0).token_id());
    }
    done += greedy ? o.samples : draw.num_return_sequences;
  }
  std::string context = o.request.prompts.empty() ? "(token ids)" : o.request.prompts[0];
  return BuildLiveView(context, first, sampled, processors);
}

}  // namespace tandem::explorer
