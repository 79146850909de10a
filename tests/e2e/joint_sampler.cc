#include "tests/e2e/joint_sampler.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "client/tandem_client.h"

namespace tandem::testing {
namespace {

void Add(const v1::GeneratedSequence& s, int64_t v, JointDraws* out) {
  ++out->draws;
  if (s.tokens_size() < 3) {
    ++out->short_sequences;
  } else {
    const int64_t a = s.tokens(0).token_id(), b = s.tokens(1).token_id(),
                  c = s.tokens(2).token_id();
    ++out->counts[(a * v + b) * v + c];
  }
  const v1::SpeculationStats& spec = s.stats().speculation();
  out->drafted_tokens += spec.drafted_tokens();
  out->accepted_tokens += spec.accepted_tokens();
  out->tree_alternatives += spec.tree_alternatives();
  out->tree_alternative_hits += spec.tree_alternative_hits();
  for (const v1::PositionAcceptance& p : spec.per_position_acceptance()) {
    if (p.position() == 3) out->drafted_at_position_3 += p.drafted();
  }
}

}  // namespace

absl::StatusOr<JointDraws> DrawJointOfThree(const JointSamplerOptions& options,
                                            const std::vector<uint32_t>& prompt,
                                            const v1::GenerationConfig& config) {
  const int64_t v = options.vocab_size;
  const int64_t per_request =
      static_cast<int64_t>(options.prompts_per_request) * options.sequences_per_prompt;
  const int64_t requests = (options.draws + per_request - 1) / per_request;
  JointDraws total;
  total.counts.assign(v * v * v, 0);
  std::mutex mu;
  absl::Status first_error;
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    client::TandemClient client(options.address);
    for (int64_t r = next++; r < requests; r = next++) {
      v1::GenerateRequest request;
      for (int i = 0; i < options.prompts_per_request; ++i) {
        request.add_prompts()->mutable_token_ids()->mutable_ids()->Add(prompt.begin(),
                                                                       prompt.end());
      }
      *request.mutable_config() = config;
      request.mutable_config()->set_num_return_sequences(options.sequences_per_prompt);
      request.mutable_config()->mutable_sampling()->set_seed(options.first_seed + r * per_request);
      request.mutable_config()->mutable_output()->set_include_speculation_stats(true);
      absl::StatusOr<v1::GenerateResponse> response = client.Generate(request);
      std::lock_guard<std::mutex> lock(mu);
      if (!response.ok()) {
        if (first_error.ok()) first_error = response.status();
        continue;
      }
      // The last request keeps only what is left of the draws.
      const int64_t keep = std::min<int64_t>(per_request, options.draws - r * per_request);
      for (int64_t k = 0; k < keep && k < response->sequences_size(); ++k) {
        Add(response->sequences(k), v, &total);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < options.concurrent_requests; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  if (!first_error.ok()) return first_error;
  return total;
}

}  // namespace tandem::testing
