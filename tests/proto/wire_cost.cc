#include "tests/proto/wire_cost.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "proto/tandem/v1/draft_service.pb.h"
#include "proto/tandem/v1/session.pb.h"
#include "proto/tandem/v1/target_service.pb.h"
#include "tests/proto/wire_alternatives.pb.h"

namespace tandem::proto_testing {
namespace {

namespace v1 = ::tandem::v1;

constexpr uint32_t kBaseLength = 1000;
constexpr size_t kGrpcMessagePrefix = 5;
constexpr size_t kHttp2FrameHeader = 9;
constexpr size_t kHttp2MaxFrame = 16384;

// Distinct ids, uniform over the vocabulary (real supports favour small, frequent ids, whose
// varints are shorter: this is the conservative case), with probabilities summing to 1.
void FillSparse(std::mt19937& rng, int vocab_size, int support, std::vector<uint32_t>& ids,
                std::vector<float>& probs) {
  std::uniform_int_distribution<uint32_t> token(0, vocab_size - 1);
  std::set<uint32_t> chosen;
  while (static_cast<int>(chosen.size()) < support) chosen.insert(token(rng));
  ids.assign(chosen.begin(), chosen.end());
  std::uniform_real_distribution<float> weight(0.01f, 1.0f);
  probs.resize(ids.size());
  float sum = 0;
  for (float& p : probs) sum += (p = weight(rng));
  for (float& p : probs) p /= sum;
}

v1::DraftedToken Drafted(std::mt19937& rng, const RoundShape& shape) {
  v1::DraftedToken drafted;
  std::uniform_int_distribution<uint32_t> token(0, shape.vocab_size - 1);
  drafted.set_token_id(token(rng));
  v1::DraftDistribution* q = drafted.mutable_distribution();
  switch (shape.encoding) {
    case QEncoding::kDense: {
      auto* probs = q->mutable_dense()->mutable_probs();
      probs->Resize(shape.vocab_size, 1.0f / shape.vocab_size);
      break;
    }
    case QEncoding::kSparse: {
      std::vector<uint32_t> ids;
      std::vector<float> probs;
      FillSparse(rng, shape.vocab_size, shape.support, ids, probs);
      v1::SparseDistribution* sparse = q->mutable_sparse();
      sparse->mutable_token_ids()->Add(ids.begin(), ids.end());
      sparse->mutable_probs()->Add(probs.begin(), probs.end());
      break;
    }
    case QEncoding::kOneHot:
      q->mutable_one_hot();
      break;
    case QEncoding::kNone:
      q->mutable_none();
      break;
  }
  return drafted;
}

v1::SequenceSync Sync(uint32_t appended_token) {
  v1::SequenceSync sync;
  sync.set_base_length(kBaseLength);
  if (appended_token != 0) sync.add_append_token_ids(appended_token);
  return sync;
}

google::protobuf::Duration ServerTime() {
  google::protobuf::Duration d;
  d.set_nanos(3456789);
  return d;
}

}  // namespace

std::string QEncodingName(QEncoding encoding) {
  switch (encoding) {
    case QEncoding::kDense: return "dense";
    case QEncoding::kSparse: return "sparse";
    case QEncoding::kOneHot: return "one-hot";
    case QEncoding::kNone: return "none";
  }
  return "?";
}

size_t RoundBytes::Protobuf() const {
  return propose_request + propose_response + verify_request + verify_response;
}

size_t GrpcFramedBytes(size_t protobuf_bytes) {
  const size_t framed = protobuf_bytes + kGrpcMessagePrefix;
  const size_t frames = (framed + kHttp2MaxFrame - 1) / kHttp2MaxFrame;
  return framed + frames * kHttp2FrameHeader;
}

size_t RoundBytes::WithGrpcFraming() const {
  size_t total = GrpcFramedBytes(verify_request) + GrpcFramedBytes(verify_response);
  if (propose_request + propose_response > 0) {
    total += GrpcFramedBytes(propose_request) + GrpcFramedBytes(propose_response);
  }
  return total;
}

RoundBytes MeasureRound(const RoundShape& shape) {
  std::mt19937 rng(shape.vocab_size * 131 + shape.gamma * 7 + shape.support);
  const uint64_t session_id = 0x9e3779b97f4a7c15ULL;  // Random-looking: all 8 bytes used.
  const uint32_t correction = shape.vocab_size / 2 + 1;

  std::vector<v1::DraftedToken> drafts;
  for (int i = 0; i < shape.gamma; ++i) drafts.push_back(Drafted(rng, shape));
  std::vector<int32_t> parents;
  if (shape.tree_alternatives > 0) {
    for (int i = 0; i < shape.gamma; ++i) parents.push_back(i - 1);
    for (int d = 0; d < shape.tree_depth; ++d) {
      for (int a = 0; a < shape.tree_alternatives; ++a) {
        v1::DraftedToken alternative;  // One-hot: the id alone.
        alternative.set_token_id(rng() % shape.vocab_size);
        drafts.push_back(alternative);
        parents.push_back(d - 1);
      }
    }
  }

  RoundBytes bytes;
  if (shape.encoding != QEncoding::kNone) {
    v1::ProposeRequest propose;
    v1::ProposeItem* item = propose.add_items();
    item->set_session_id(session_id);
    *item->mutable_sync() = Sync(correction);
    item->set_num_draft_tokens(shape.gamma);
    item->set_tree_alternatives(shape.tree_alternatives);
    item->set_tree_depth(shape.tree_depth);
    bytes.propose_request = propose.ByteSizeLong();

    v1::ProposeResponse proposed;
    v1::ProposeResult* result = proposed.add_results();
    for (const v1::DraftedToken& d : drafts) *result->add_tokens() = d;
    for (int32_t parent : parents) result->add_parents(parent);
    result->set_sequence_length(kBaseLength + 1);
    *proposed.mutable_server_time() = ServerTime();
    bytes.propose_response = proposed.ByteSizeLong();
  }

  v1::VerifyRequest verify;
  v1::VerifyItem* item = verify.add_items();
  item->set_session_id(session_id);
  *item->mutable_sync() = Sync(0);
  for (const v1::DraftedToken& d : drafts) *item->add_draft_tokens() = d;
  for (int32_t parent : parents) item->add_draft_parents(parent);
  bytes.verify_request = verify.ByteSizeLong();

  v1::VerifyResponse verified;
  v1::VerifyResult* result = verified.add_results();
  result->set_accepted_count(shape.accepted);
  for (int i = 0; i < shape.accepted; ++i) {
    result->add_emitted_tokens()->set_token_id(drafts[i].token_id());
  }
  result->add_emitted_tokens()->set_token_id(correction);
  result->set_sequence_length(kBaseLength + shape.accepted + 1);
  if (shape.tree_alternatives > 0) {
    for (int i = 0; i < shape.accepted; ++i) result->add_accepted_nodes(i);
  }
  // The load signal the server sends with every result: 9 marginal costs in
  // µs (the shipped target on this CPU: ~1.7 ms per step alone).
  for (int j = 1; j <= 9; ++j) result->add_marginal_step_us(1700 * j);
  result->set_others_busy_permille(870);
  *verified.mutable_server_time() = ServerTime();
  bytes.verify_response = verified.ByteSizeLong();
  return bytes;
}

SparseEncodingBytes MeasureSparseEncodings(int vocab_size, int support) {
  std::mt19937 rng(vocab_size + support);
  std::vector<uint32_t> ids;
  std::vector<float> probs;
  FillSparse(rng, vocab_size, support, ids, probs);

  v1::DraftDistribution packed;
  packed.mutable_sparse()->mutable_token_ids()->Add(ids.begin(), ids.end());
  packed.mutable_sparse()->mutable_probs()->Add(probs.begin(), probs.end());

  wirecost::SparseAsEntries entries;
  for (size_t i = 0; i < ids.size(); ++i) {
    wirecost::SparseEntry* entry = entries.add_entries();
    entry->set_token_id(ids[i]);
    entry->set_prob(probs[i]);
  }
  // Wrapped like the contract's field: DraftDistribution.sparse = 2 (tag + length prefix).
  const size_t body = entries.ByteSizeLong();
  size_t length_prefix = 1;
  for (size_t v = body; v >= 0x80; v >>= 7) ++length_prefix;
  return {packed.ByteSizeLong(), 1 + length_prefix + body};
}

}  // namespace tandem::proto_testing
