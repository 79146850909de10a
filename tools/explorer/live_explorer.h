#ifndef TANDEM_TOOLS_EXPLORER_LIVE_EXPLORER_H_
#define TANDEM_TOOLS_EXPLORER_LIVE_EXPLORER_H_

// The sampling explorer on a served model (`tandem explore`): the target's
// next-token distribution after a prompt, before and after the request's
// processors (OutputOptions.distribution_top_n), and the frequencies of
// seeded samples that the server itself drew with the same configuration.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/tandem_client.h"
#include "proto/tandem/v1/common.pb.h"
#include "tools/explorer/explorer.h"

namespace tandem::explorer {

struct LiveOptions {
  // Exactly one prompt plus the sampling fields to explore. ExploreLive sets
  // max_new_tokens, num_return_sequences, distribution_top_n and the seeds.
  client::GenerateOptions request;
  int top_n = 20;        // Tokens of each distribution to fetch: >= 1 (the server bounds it).
  int samples = 200;     // Seeded samples to draw on the server: [0, 100000].
  // Sequences per sampling request: [1, the server's max_return_sequences].
  int batch = 16;
  uint64_t seed = 0;     // Sample i uses seed + i.
  absl::Duration timeout = absl::Minutes(1);  // Per request.
};

struct LiveView {
  Example example;  // context = the prompt; labels = the listed tokens.
  Exploration exploration;
};

// One row per token that is in either returned list of `first`, plus an
// "(other)" row holding the mass outside them (and the samples that fell
// there) when there is any. A token missing from one list has probability
// "not known" (negative) in that column. `sampled` holds the sampled token
// ids. InvalidArgument if `first` carries no raw distribution.
absl::StatusOr<LiveView> BuildLiveView(const std::string& context,
                                       const v1::GeneratedToken& first,
                                       const std::vector<uint32_t>& sampled,
                                       const std::string& processors);

// "temperature 0.8, top_p 0.95" from the request's sampling fields; "the
// server's defaults" when none is set.
std::string DescribeSampling(const v1::SamplingParams& sampling);

// Greedy requests (temperature 0, or the deterministic preset) draw one
// sample and count it `samples` times: every draw is the argmax.
bool IsGreedy(const client::GenerateOptions& request);

// Asks the server for the distributions (one request, max_new_tokens 1),
// then for the samples (ceil(samples / batch) requests of up to `batch`
// sequences), and builds the view. InvalidArgument for options out of range
// (naming the option); the server's status for a refused request.
absl::StatusOr<LiveView> ExploreLive(client::TandemClient& client, const LiveOptions& options);

}  // namespace tandem::explorer

#endif  // TANDEM_TOOLS_EXPLORER_LIVE_EXPLORER_H_
