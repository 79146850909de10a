#ifndef TANDEM_TESTS_PROTO_WIRE_COST_H_
#define TANDEM_TESTS_PROTO_WIRE_COST_H_

#include <cstddef>
#include <string>

namespace tandem::proto_testing {

// How the draft distributions q of one round travel (tandem.v1.DraftDistribution).
enum class QEncoding { kDense, kSparse, kOneHot, kNone };

std::string QEncodingName(QEncoding encoding);

// One speculative round of one session: Propose (orchestrator <-> draft) + Verify (orchestrator
// <-> target), gamma drafted tokens, `accepted` of them accepted, no logprobs requested.
// kNone is an n-gram round: drafted in the orchestrator, so no Propose call.
struct RoundShape {
  int vocab_size = 32000;
  int gamma = 4;
  QEncoding encoding = QEncoding::kDense;
  int support = 0;  // kSparse: entries per position.
  int accepted = 2;
  // Token trees: this many one-hot alternatives beside each of the first
  // tree_depth drafts (ProposeItem.tree_*, VerifyItem.draft_parents).
  int tree_alternatives = 0;
  int tree_depth = 0;
};

// Serialized sizes (ByteSizeLong of realistic messages) of the four messages of a round.
struct RoundBytes {
  size_t propose_request = 0;
  size_t propose_response = 0;
  size_t verify_request = 0;
  size_t verify_response = 0;

  size_t Protobuf() const;
  // Plus gRPC length-prefixed message framing (5 bytes) and HTTP/2 DATA frame headers (9 bytes per
  // frame of at most 16 KiB, the default SETTINGS_MAX_FRAME_SIZE). HEADERS frames are not counted.
  size_t WithGrpcFraming() const;
};

RoundBytes MeasureRound(const RoundShape& shape);

// Bytes of gRPC + HTTP/2 DATA framing around one message of `protobuf_bytes`, included.
size_t GrpcFramedBytes(size_t protobuf_bytes);

// Bytes of one position's sparse q with `support` entries over `vocab_size`: as the contract's
// SparseDistribution (packed ids + packed probs) and as repeated {token_id, prob} sub-messages.
struct SparseEncodingBytes {
  size_t packed = 0;
  size_t entries = 0;
};
SparseEncodingBytes MeasureSparseEncodings(int vocab_size, int support);

}  // namespace tandem::proto_testing

#endif  // TANDEM_TESTS_PROTO_WIRE_COST_H_
