// Bounds on the bytes per verify round, so that the contract cannot silently get fatter on the hot
// path, and the facts docs/proto.md relies on.
#include "tests/proto/wire_cost.h"

#include "gtest/gtest.h"
#include "proto/tandem/v1/draft_service.pb.h"
#include "proto/tandem/v1/target_service.pb.h"

namespace tandem::proto_testing {
namespace {

RoundShape Shape(int vocab, int gamma, QEncoding encoding, int support = 0) {
  RoundShape shape;
  shape.vocab_size = vocab;
  shape.gamma = gamma;
  shape.encoding = encoding;
  shape.support = support;
  shape.accepted = gamma / 2;
  return shape;
}

TEST(WireCostTest, DenseCostsFourBytesPerVocabEntryPlusSmallFraming) {
  for (int vocab : {8000, 32000, 128256}) {
    for (int gamma : {4, 8}) {
      const RoundBytes b = MeasureRound(Shape(vocab, gamma, QEncoding::kDense));
      const size_t payload = 4u * vocab * gamma;
      EXPECT_GE(b.verify_request, payload);
      EXPECT_LE(b.verify_request, payload + 32u * gamma + 64u) << vocab << " " << gamma;
      EXPECT_GE(b.propose_response, payload);
      EXPECT_LE(b.propose_response, payload + 32u * gamma + 64u) << vocab << " " << gamma;
    }
  }
}

TEST(WireCostTest, SparseCostsAtMostEightBytesPerEntryUpTo128kVocab) {
  for (int gamma : {4, 8}) {
    const RoundBytes b = MeasureRound(Shape(128256, gamma, QEncoding::kSparse, 50));
    EXPECT_LE(b.verify_request, 8u * 50 * gamma + 16u * gamma + 32u);
  }
}

TEST(WireCostTest, OneHotVerifyRoundFitsInAFewHundredBytes) {
  const RoundBytes b = MeasureRound(Shape(128256, 8, QEncoding::kOneHot));
  EXPECT_LE(b.Protobuf(), 300u);
  // An n-gram round: the Verify request and response only (the response
  // carries ~25 bytes of load signal).
  EXPECT_LE(MeasureRound(Shape(128256, 8, QEncoding::kNone)).Protobuf(), 170u);
}

TEST(WireCostTest, AOneHotTreeAlternativeCostsAFewBytes) {
  // A greedy round of γ = 4 with 2 alternatives at the first 2 positions
  // (8 tokens): each alternative is its id plus its parent, ~6 bytes per
  // message that carries it at a 128k vocabulary, and each parent one byte
  // (sint32: -1 would take 10 bytes as an int32 varint).
  RoundShape chain = Shape(128256, 4, QEncoding::kOneHot);
  RoundShape tree = chain;
  tree.tree_alternatives = 2;
  tree.tree_depth = 2;
  const RoundBytes c = MeasureRound(chain), t = MeasureRound(tree);
  EXPECT_LE(t.verify_request - c.verify_request, 4u * 10);
  EXPECT_LE(t.propose_response - c.propose_response, 4u * 10);
  EXPECT_LE(t.Protobuf(), 300u);
}

// Speculative beam search, 4 beams at a 128k vocabulary: a pass's Decode
// request carries 8 tree tokens per beam (varint ids + 1-byte sint32
// parents), its response 8 candidates per beam and per tree token (3-byte id
// + float + framing, ~11 bytes each): docs/proto.md's "≈ 3.3 KB per pass";
// a draft step's Propose response 16 candidates per beam.
TEST(WireCostTest, ABeamSearchPassCostsAFewKilobytes) {
  v1::DecodeRequest request;
  v1::DecodeResponse response;
  v1::ProposeResponse proposed;
  for (int beam = 0; beam < 4; ++beam) {
    v1::DecodeItem* item = request.add_items();
    item->set_session_id(0x1234567890abcdefULL);
    item->mutable_sync()->set_base_length(300);
    item->mutable_sync()->add_append_token_ids(128000);
    item->set_score_only(true);
    item->set_top_logprobs(8);
    v1::DecodeResult* result = response.add_results();
    for (int c = 0; c < 8; ++c) {
      v1::TokenLogprob* t = result->add_candidates();
      t->set_token_id(120000 + c);
      t->set_logprob(-1.25f * c);
    }
    for (int node = 0; node < 8; ++node) {
      item->add_score_tokens(120000 + node);
      item->add_score_parents(node < 4 ? -1 : node - 4);
      v1::TokenCandidates* list = result->add_node_candidates();
      for (int c = 0; c < 8; ++c) {
        v1::TokenLogprob* t = list->add_candidates();
        t->set_token_id(120000 + c);
        t->set_logprob(-1.25f * c);
      }
    }
    result->set_sequence_length(301);
    v1::ProposeResult* p = proposed.add_results();
    v1::DraftedToken* token = p->add_tokens();
    token->set_token_id(120000);
    token->mutable_distribution()->mutable_one_hot();
    for (int c = 0; c < 16; ++c) {
      v1::TokenLogprob* t = token->add_candidates();
      t->set_token_id(120000 + c);
      t->set_logprob(-0.5f * c);
    }
  }
  EXPECT_LE(request.ByteSizeLong(), 4u * 80);
  EXPECT_LE(response.ByteSizeLong(), 4u * 9 * 8 * 12);
  EXPECT_GE(response.ByteSizeLong(), 4u * 9 * 8 * 9);  // Not free either.
  EXPECT_LE(proposed.ByteSizeLong(), 4u * (16 * 12 + 20));
}

TEST(WireCostTest, NgramRoundHasNoProposeCall) {
  const RoundBytes b = MeasureRound(Shape(32000, 4, QEncoding::kNone));
  EXPECT_EQ(b.propose_request + b.propose_response, 0u);
  EXPECT_GT(b.verify_request, 0u);
}

TEST(WireCostTest, PackedSparseIsSmallerThanRepeatedEntries) {
  for (int vocab : {8000, 32000, 128256}) {
    const SparseEncodingBytes s = MeasureSparseEncodings(vocab, 500);
    EXPECT_LT(s.packed, s.entries);
    EXPECT_GE(s.entries - s.packed, 3u * 500);  // Two tags + one length per entry.
  }
}

TEST(WireCostTest, DenseAt128kHitsGrpcDefaultMaxMessageSizeAboveGamma8) {
  // Why the model services must raise the gRPC max message size (batched items multiply it).
  constexpr size_t kGrpcDefaultMaxReceive = 4u << 20;
  EXPECT_LT(MeasureRound(Shape(128256, 8, QEncoding::kDense)).verify_request, kGrpcDefaultMaxReceive);
  EXPECT_GT(MeasureRound(Shape(128256, 9, QEncoding::kDense)).verify_request, kGrpcDefaultMaxReceive);
}

TEST(WireCostTest, GrpcFramingAddsPrefixAndFrameHeaders) {
  EXPECT_EQ(GrpcFramedBytes(10), 10u + 5 + 9);
  EXPECT_EQ(GrpcFramedBytes(16384), 16384u + 5 + 2 * 9);
}

}  // namespace
}  // namespace tandem::proto_testing
