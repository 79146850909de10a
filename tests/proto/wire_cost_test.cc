// Bounds on the bytes per verify round, so that the contract cannot silently get fatter on the hot
// path, and the facts docs/proto.md relies on.
#include "tests/proto/wire_cost.h"

#include "gtest/gtest.h"

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
  EXPECT_LE(MeasureRound(Shape(128256, 8, QEncoding::kNone)).Protobuf(), 160u);
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
