#ifndef TANDEM_SAMPLING_TESTING_PLANTED_VERIFIER_BUG_H_
#define TANDEM_SAMPLING_TESTING_PLANTED_VERIFIER_BUG_H_

// Test-only: plants a known bug in VerifyDraft / VerifyTree for the lifetime
// of the scope, process-wide (in-process servers included), for negative
// controls of the statistical tests. Scopes must not overlap.

#include "sampling/verifier_fault.h"

namespace tandem::sampling::testing {

using internal::VerifierFault;

class ScopedPlantedVerifierBug {
 public:
  explicit ScopedPlantedVerifierBug(VerifierFault fault) { internal::SetVerifierFault(fault); }
  ~ScopedPlantedVerifierBug() { internal::SetVerifierFault(VerifierFault::kNone); }
  ScopedPlantedVerifierBug(const ScopedPlantedVerifierBug&) = delete;
  ScopedPlantedVerifierBug& operator=(const ScopedPlantedVerifierBug&) = delete;
};

}  // namespace tandem::sampling::testing

#endif  // TANDEM_SAMPLING_TESTING_PLANTED_VERIFIER_BUG_H_
