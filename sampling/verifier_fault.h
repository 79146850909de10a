#ifndef TANDEM_SAMPLING_VERIFIER_FAULT_H_
#define TANDEM_SAMPLING_VERIFIER_FAULT_H_

// A deliberately wrong verification rule that VerifyDraft and VerifyTree can
// be switched to, so that the statistical tests can show they reject a real
// bug (negative controls). Only sampling/testing/planted_verifier_bug.h sets it (the
// library's visibility admits nothing else); production code never does, and
// no flag or proto field reaches it. Default: kNone.

namespace tandem::sampling::internal {

enum class VerifierFault : int {
  kNone = 0,
  // Accept x with probability min(1, q(x) / p(x)) instead of min(1, p / q):
  // every draft with q >= p is accepted.
  kInvertedAcceptRatio = 1,
  // The residual p - q without max(0, .). Its negative weights make
  // SampleToken refuse it, so the verifier's fallback then samples from p
  // itself: a rejected position is resampled from the target distribution.
  // In VerifyTree later siblings are then tested against p itself too.
  kResidualWithoutClamp = 2,
  // VerifyTree only: a later sibling (after a rejected one) is tested against
  // the node's original target distribution p instead of the residual left
  // by the rejected siblings (the classic multi-candidate verification bug).
  // The residual itself is still kept for the correction.
  kSiblingWithoutResidual = 3,
};

// Thread-safe (an atomic).
VerifierFault CurrentVerifierFault();
void SetVerifierFault(VerifierFault fault);

}  // namespace tandem::sampling::internal

#endif  // TANDEM_SAMPLING_VERIFIER_FAULT_H_
