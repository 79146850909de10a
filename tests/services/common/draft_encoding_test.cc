// The wire encoding of draft distributions (services/common/convert.h,
// session.proto DraftDistribution / DistributionEncoding): every form
// survives serialization bit for bit, and a forced encoding is honoured.
#include <cstring>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "proto/tandem/v1/draft_service.pb.h"
#include "sampling/draft_distribution.h"
#include "services/common/convert.h"

namespace tandem::services {
namespace {

using Kind = sampling::DraftDistribution::Kind;
using Wire = google::protobuf::RepeatedPtrField<v1::DraftedToken>;

constexpr int64_t kVocab = 6;

// Values with no short decimal form, a subnormal and an exact zero.
std::vector<float> Awkward() {
  return {1.0f / 3.0f, 0.0f, std::numeric_limits<float>::denorm_min(), 0.2f, 0.1f,
          1.0f - 1.0f / 3.0f - 0.2f - 0.1f};
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// ToProto, then through serialized bytes, then FromProto.
decoding::Draft RoundTrip(const decoding::Draft& draft, v1::DistributionEncoding encoding,
                          Wire* wire_out = nullptr) {
  v1::ProposeResult message;
  ToProto(draft, encoding, kVocab, message.mutable_tokens());
  std::string bytes;
  EXPECT_TRUE(message.SerializeToString(&bytes));
  v1::ProposeResult parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  if (wire_out != nullptr) *wire_out = parsed.tokens();
  absl::StatusOr<decoding::Draft> back = FromProto(parsed.tokens());
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *back : decoding::Draft{};
}

decoding::Draft One(int64_t token, sampling::DraftDistribution d) {
  decoding::Draft draft;
  draft.tokens = {token};
  draft.dists = {std::move(d)};
  return draft;
}

at::Tensor DenseTensor(const std::vector<float>& values) {
  at::Tensor t = at::empty({static_cast<int64_t>(values.size())}, at::kFloat);
  std::copy(values.begin(), values.end(), t.data_ptr<float>());
  return t;
}

void ExpectDenseBits(const sampling::DraftDistribution& d, const std::vector<float>& want) {
  ASSERT_EQ(d.kind, Kind::kDense);
  ASSERT_EQ(d.dense.numel(), static_cast<int64_t>(want.size()));
  at::Tensor cpu = d.dense.contiguous();
  for (size_t v = 0; v < want.size(); ++v) {
    EXPECT_TRUE(SameBits(cpu.data_ptr<float>()[v], want[v])) << "entry " << v;
  }
}

TEST(DraftEncodingTest, DenseRoundTripsBitForBit) {
  Wire wire;
  decoding::Draft back = RoundTrip(One(0, sampling::DraftDistribution::Dense(DenseTensor(Awkward()))),
                                   v1::DISTRIBUTION_ENCODING_UNSPECIFIED, &wire);
  EXPECT_TRUE(wire.Get(0).distribution().has_dense());
  ASSERT_EQ(back.tokens, std::vector<int64_t>{0});
  ExpectDenseBits(back.dists[0], Awkward());
}

TEST(DraftEncodingTest, SparseRoundTripsBitForBit) {
  const std::vector<int64_t> ids = {5, 0, 3};
  const std::vector<float> probs = {1.0f / 3.0f, std::numeric_limits<float>::denorm_min(),
                                    1.0f - 1.0f / 3.0f};
  Wire wire;
  decoding::Draft back =
      RoundTrip(One(3, sampling::DraftDistribution::Sparse(ids, probs)),
                v1::DISTRIBUTION_ENCODING_UNSPECIFIED, &wire);
  EXPECT_TRUE(wire.Get(0).distribution().has_sparse());
  ASSERT_EQ(back.dists.size(), 1u);
  EXPECT_EQ(back.dists[0].kind, Kind::kSparse);
  EXPECT_EQ(back.dists[0].ids, ids);
  ASSERT_EQ(back.dists[0].probs.size(), probs.size());
  for (size_t k = 0; k < probs.size(); ++k) EXPECT_TRUE(SameBits(back.dists[0].probs[k], probs[k]));
}

TEST(DraftEncodingTest, OneHotAndNoneRoundTripAsThemselves) {
  decoding::Draft draft;
  draft.tokens = {4, 2};
  draft.dists = {sampling::DraftDistribution::OneHot(), sampling::DraftDistribution::None()};
  Wire wire;
  decoding::Draft back = RoundTrip(draft, v1::DISTRIBUTION_ENCODING_UNSPECIFIED, &wire);
  EXPECT_TRUE(wire.Get(0).distribution().has_one_hot());
  EXPECT_TRUE(wire.Get(1).distribution().has_none());
  EXPECT_EQ(back.tokens, draft.tokens);
  ASSERT_EQ(back.dists.size(), 2u);
  EXPECT_EQ(back.dists[0].kind, Kind::kOneHot);
  EXPECT_EQ(back.dists[1].kind, Kind::kNone);
}

// session.proto: DISTRIBUTION_ENCODING_DENSE = "Always dense".
TEST(DraftEncodingTest, ForcedDenseExpandsSparseAndOneHotToTheWholeVocabulary) {
  decoding::Draft draft;
  draft.tokens = {3, 1, 2};
  draft.dists = {sampling::DraftDistribution::Sparse({3, 0}, {0.75f, 0.25f}),
                 sampling::DraftDistribution::OneHot(),
                 sampling::DraftDistribution::Dense(DenseTensor(Awkward()))};
  Wire wire;
  decoding::Draft back = RoundTrip(draft, v1::DISTRIBUTION_ENCODING_DENSE, &wire);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(wire.Get(i).distribution().has_dense()) << i;
  ASSERT_EQ(back.dists.size(), 3u);
  ExpectDenseBits(back.dists[0], {0.25f, 0, 0, 0.75f, 0, 0});
  ExpectDenseBits(back.dists[1], {0, 1.0f, 0, 0, 0, 0});
  ExpectDenseBits(back.dists[2], Awkward());
  // The verifier reads the same q as from the original form.
  for (int64_t token = 0; token < kVocab; ++token) {
    EXPECT_EQ(*sampling::DraftProbability(back.dists[0], 3, token, kVocab),
              *sampling::DraftProbability(draft.dists[0], 3, token, kVocab));
  }
}

TEST(DraftEncodingTest, ForcedDenseLeavesNgramDraftsWithoutADistribution) {
  Wire wire;
  RoundTrip(One(1, sampling::DraftDistribution::None()), v1::DISTRIBUTION_ENCODING_DENSE, &wire);
  EXPECT_TRUE(wire.Get(0).distribution().has_none());
}

TEST(DraftEncodingTest, ForcedSparseKeepsExactlyTheNonzeroEntries) {
  decoding::Draft draft;
  draft.tokens = {0, 4};
  draft.dists = {sampling::DraftDistribution::Dense(DenseTensor(Awkward())),
                 sampling::DraftDistribution::OneHot()};
  Wire wire;
  decoding::Draft back = RoundTrip(draft, v1::DISTRIBUTION_ENCODING_SPARSE, &wire);
  ASSERT_TRUE(wire.Get(0).distribution().has_sparse());
  ASSERT_TRUE(wire.Get(1).distribution().has_sparse());
  ASSERT_EQ(back.dists.size(), 2u);
  EXPECT_EQ(back.dists[0].ids, (std::vector<int64_t>{0, 2, 3, 4, 5}));
  const std::vector<float> all = Awkward();
  for (size_t k = 0; k < back.dists[0].ids.size(); ++k) {
    EXPECT_TRUE(SameBits(back.dists[0].probs[k], all[back.dists[0].ids[k]])) << k;
  }
  EXPECT_EQ(back.dists[1].ids, std::vector<int64_t>{4});
  EXPECT_EQ(back.dists[1].probs, std::vector<float>{1.0f});
}

}  // namespace
}  // namespace tandem::services
