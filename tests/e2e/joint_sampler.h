#ifndef TANDEM_TESTS_E2E_JOINT_SAMPLER_H_
#define TANDEM_TESTS_E2E_JOINT_SAMPLER_H_

// Draws the first three generated tokens of many seeded sequences through the
// public Generate API of a running orchestrator, and sums the speculation
// statistics the responses report.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/tandem/v1/generation_service.pb.h"

namespace tandem::testing {

struct JointDraws {
  // counts[a*V*V + b*V + c]: sequences whose first three tokens were a, b, c.
  std::vector<int64_t> counts;
  int64_t draws = 0;
  // Sequences that ended before three tokens (EOS; never for an exact sampler
  // whose EOS is masked or ignored over those positions).
  int64_t short_sequences = 0;
  uint64_t drafted_tokens = 0;
  uint64_t accepted_tokens = 0;
  // Rounds that drafted a token at the third draft position (γ >= 3 ran).
  uint64_t drafted_at_position_3 = 0;
  // Token trees: alternatives drafted, and sequences' rounds that took one.
  uint64_t tree_alternatives = 0;
  uint64_t tree_alternative_hits = 0;
};

struct JointSamplerOptions {
  std::string address;  // The orchestrator.
  int64_t vocab_size = 0;
  int64_t draws = 0;
  // Sequence k (0-based) of the run has seed first_seed + k.
  uint64_t first_seed = 1;
  // Sequences per request (prompt copies x num_return_sequences), and
  // requests in flight at once.
  int prompts_per_request = 8;
  int sequences_per_prompt = 16;
  int concurrent_requests = 2;
};

// `config` is the request's GenerationConfig (sampling, stopping,
// speculation); the sampler sets the seed, num_return_sequences and
// include_speculation_stats. Every request carries `prompt` as token ids.
// Returns the first error of any request.
absl::StatusOr<JointDraws> DrawJointOfThree(const JointSamplerOptions& options,
                                            const std::vector<uint32_t>& prompt,
                                            const v1::GenerationConfig& config);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_E2E_JOINT_SAMPLER_H_
