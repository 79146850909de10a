#ifndef TANDEM_SERVICES_COMMON_CONVERT_H_
#define TANDEM_SERVICES_COMMON_CONVERT_H_

// Conversions between the wire types (tandem.v1) and the transport-free
// structs of sampling/ and decoding/. Wire types stop here.

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "decoding/engines.h"
#include "google/protobuf/duration.pb.h"
#include "model/model.h"
#include "proto/tandem/v1/common.pb.h"
#include "proto/tandem/v1/session.pb.h"
#include "sampling/sampling_params.h"

namespace tandem::services {

// SamplingParams: the preset first, then every field that is set. Values are
// range-checked later by sampling::ValidateSamplingParams (vocab known).
absl::StatusOr<sampling::SamplingParams> FromProto(const v1::SamplingParams& p);
void ToProto(const sampling::SamplingParams& p, v1::SamplingParams* out);

absl::StatusOr<decoding::SessionOptions> FromProto(const v1::SessionConfig& c);
void ToProto(const decoding::SessionOptions& o, v1::SessionConfig* out);

decoding::SequenceSync FromProto(const v1::SequenceSync& s);
void ToProto(const decoding::SequenceSync& s, v1::SequenceSync* out);

// Draft tokens with their distributions (exact float32 values both ways).
absl::StatusOr<decoding::Draft> FromProto(
    const google::protobuf::RepeatedPtrField<v1::DraftedToken>& tokens);
// `encoding` as ProposeItem.encoding documents it: UNSPECIFIED keeps the form
// the drafter packed (one-hot, sparse or dense); DENSE sends every q that has
// values (dense, sparse, one-hot) as all `vocab_size` probabilities (more if
// an id is beyond it), SPARSE as its nonzero (id, prob) entries. The values
// are never rounded. n-gram drafts (no distribution) stay `none`.
void ToProto(const decoding::Draft& draft, v1::DistributionEncoding encoding, int64_t vocab_size,
             google::protobuf::RepeatedPtrField<v1::DraftedToken>* out);

// A token list each way (candidates, alternatives, distributions): ids and
// log-probabilities, no pieces.
void AppendLogprobs(absl::Span<const sampling::TokenLogprob> list,
                    google::protobuf::RepeatedPtrField<v1::TokenLogprob>* out);
std::vector<sampling::TokenLogprob> LogprobsOf(
    const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& list);

void ToProto(const sampling::StepResult& step, bool logprobs, int top_n,
             v1::GeneratedToken* out);
sampling::StepResult FromProto(const v1::GeneratedToken& token);

void ToProto(const model::ModelInfo& info, v1::ModelInfo* out);

void ToProto(absl::Duration d, google::protobuf::Duration* out);
absl::Duration FromProto(const google::protobuf::Duration& d);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_CONVERT_H_
