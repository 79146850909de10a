#include "sampling/verifier_fault.h"

#include <atomic>

namespace tandem::sampling::internal {
namespace {

std::atomic<int> fault{static_cast<int>(VerifierFault::kNone)};

}  // namespace

VerifierFault CurrentVerifierFault() {
  return static_cast<VerifierFault>(fault.load(std::memory_order_relaxed));
}

void SetVerifierFault(VerifierFault f) {
  fault.store(static_cast<int>(f), std::memory_order_relaxed);
}

}  // namespace tandem::sampling::internal
