#include "services/common/convert.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace tandem::services {

absl::StatusOr<sampling::SamplingParams> FromProto(const v1::SamplingParams& p) {
  sampling::SamplingParams out;
  switch (p.preset()) {
    case v1::SAMPLING_PRESET_UNSPECIFIED: break;
    case v1::SAMPLING_PRESET_CREATIVE: out = sampling::PresetParams(sampling::Preset::kCreative); break;
    case v1::SAMPLING_PRESET_PRECISE: out = sampling::PresetParams(sampling::Preset::kPrecise); break;
    case v1::SAMPLING_PRESET_BALANCED: out = sampling::PresetParams(sampling::Preset::kBalanced); break;
    case v1::SAMPLING_PRESET_DETERMINISTIC:
      out = sampling::PresetParams(sampling::Preset::kDeterministic);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("`config.sampling.preset` has unknown value ", p.preset()));
  }
  if (p.has_temperature()) out.temperature = p.temperature();
  if (p.has_top_k()) out.top_k = p.top_k();
  if (p.has_top_p()) out.top_p = p.top_p();
  if (p.has_min_p()) out.min_p = p.min_p();
  if (p.has_typical_p()) out.typical_p = p.typical_p();
  if (p.has_repetition_penalty()) out.repetition_penalty = p.repetition_penalty();
  if (p.has_presence_penalty()) out.presence_penalty = p.presence_penalty();
  if (p.has_frequency_penalty()) out.frequency_penalty = p.frequency_penalty();
  if (p.has_no_repeat_ngram_size()) out.no_repeat_ngram_size = p.no_repeat_ngram_size();
  if (out.temperature > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.sampling.temperature` must be in [0, 100], got ", out.temperature));
  }
  if (out.repetition_penalty > 10) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.sampling.repetition_penalty` must be in (0, 10], got ", out.repetition_penalty));
  }
  if (out.no_repeat_ngram_size > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("`config.sampling.no_repeat_ngram_size` must be in [0, 64], got ",
                     out.no_repeat_ngram_size));
  }
  if (p.banned_token_ids_size() > 4096) {
    return absl::InvalidArgumentError(
        "`config.sampling.banned_token_ids` has more than 4096 entries");
  }
  if (p.logit_bias_size() > 1024) {
    return absl::InvalidArgumentError("`config.sampling.logit_bias` has more than 1024 entries");
  }
  out.banned_token_ids.assign(p.banned_token_ids().begin(), p.banned_token_ids().end());
  for (const v1::LogitBias& b : p.logit_bias()) {
    out.logit_bias.push_back({static_cast<int64_t>(b.token_id()), b.bias()});
  }
  if (p.has_seed()) out.seed = p.seed();
  return out;
}

void ToProto(const sampling::SamplingParams& p, v1::SamplingParams* out) {
  out->set_temperature(p.temperature);
  out->set_top_k(p.top_k);
  out->set_top_p(p.top_p);
  out->set_min_p(p.min_p);
  out->set_typical_p(p.typical_p);
  out->set_repetition_penalty(p.repetition_penalty);
  out->set_presence_penalty(p.presence_penalty);
  out->set_frequency_penalty(p.frequency_penalty);
  out->set_no_repeat_ngram_size(p.no_repeat_ngram_size);
  for (int64_t id : p.banned_token_ids) out->add_banned_token_ids(id);
  for (const auto& b : p.logit_bias) {
    v1::LogitBias* lb = out->add_logit_bias();
    lb->set_token_id(b.token_id);
    lb->set_bias(b.bias);
  }
  if (p.seed) out->set_seed(*p.seed);
}

absl::StatusOr<decoding::SessionOptions> FromProto(const v1::SessionConfig& c) {
  absl::StatusOr<sampling::SamplingParams> params = FromProto(c.sampling());
  if (!params.ok()) return params.status();
  decoding::SessionOptions o;
  o.params = *std::move(params);
  o.params.min_new_tokens = c.min_new_tokens();
  o.params.eos_token_ids.assign(c.eos_token_ids().begin(), c.eos_token_ids().end());
  o.seed = o.params.seed.value_or(0);
  if (c.top_logprobs() > 20) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.top_logprobs` must be in [0, 20], got ", c.top_logprobs()));
  }
  o.top_logprobs = c.top_logprobs();
  if (c.distribution_top_n() > static_cast<uint32_t>(decoding::kMaxDistributionTopN)) {
    return absl::InvalidArgumentError(
        absl::StrCat("`config.distribution_top_n` must be in [0, ",
                     decoding::kMaxDistributionTopN, "], got ", c.distribution_top_n()));
  }
  o.distribution_top_n = static_cast<int>(c.distribution_top_n());
  return o;
}

void ToProto(const decoding::SessionOptions& o, v1::SessionConfig* out) {
  sampling::SamplingParams p = o.params;
  p.seed = o.seed;
  ToProto(p, out->mutable_sampling());
  out->set_min_new_tokens(o.params.min_new_tokens);
  for (int64_t id : o.params.eos_token_ids) out->add_eos_token_ids(id);
  out->set_logprobs(true);
  out->set_top_logprobs(o.top_logprobs);
  out->set_distribution_top_n(o.distribution_top_n);
}

decoding::SequenceSync FromProto(const v1::SequenceSync& s) {
  return {s.base_length(), {s.append_token_ids().begin(), s.append_token_ids().end()}};
}

void ToProto(const decoding::SequenceSync& s, v1::SequenceSync* out) {
  out->set_base_length(s.base_length);
  for (int64_t t : s.append) out->add_append_token_ids(t);
}

absl::StatusOr<decoding::Draft> FromProto(
    const google::protobuf::RepeatedPtrField<v1::DraftedToken>& tokens) {
  decoding::Draft draft;
  for (const v1::DraftedToken& t : tokens) {
    draft.tokens.push_back(t.token_id());
    const v1::DraftDistribution& d = t.distribution();
    switch (d.kind_case()) {
      case v1::DraftDistribution::kDense: {
        at::Tensor probs = at::empty({d.dense().probs_size()}, at::kFloat);
        std::copy(d.dense().probs().begin(), d.dense().probs().end(),
                  probs.data_ptr<float>());
        draft.dists.push_back(sampling::DraftDistribution::Dense(probs));
        break;
      }
      case v1::DraftDistribution::kSparse: {
        if (d.sparse().token_ids_size() != d.sparse().probs_size()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "sparse draft distribution has ", d.sparse().token_ids_size(),
              " token_ids but ", d.sparse().probs_size(), " probs"));
        }
        draft.dists.push_back(sampling::DraftDistribution::Sparse(
            {d.sparse().token_ids().begin(), d.sparse().token_ids().end()},
            {d.sparse().probs().begin(), d.sparse().probs().end()}));
        break;
      }
      case v1::DraftDistribution::kOneHot:
        draft.dists.push_back(sampling::DraftDistribution::OneHot());
        break;
      default:
        draft.dists.push_back(sampling::DraftDistribution::None());
        break;
    }
  }
  return draft;
}

namespace {

// q of draft token `token` as exact (id, prob) pairs of its nonzero entries.
void NonzeroEntries(const sampling::DraftDistribution& d, int64_t token, std::vector<int64_t>* ids,
                    std::vector<float>* probs) {
  using Kind = sampling::DraftDistribution::Kind;
  ids->clear();
  probs->clear();
  if (d.kind == Kind::kSparse) {
    *ids = d.ids;
    *probs = d.probs;
  } else if (d.kind == Kind::kDense) {
    at::Tensor cpu = d.dense.to(at::kCPU, at::kFloat).contiguous();
    for (int64_t v = 0; v < cpu.numel(); ++v) {
      if (cpu.data_ptr<float>()[v] != 0.0f) {
        ids->push_back(v);
        probs->push_back(cpu.data_ptr<float>()[v]);
      }
    }
  } else {
    ids->push_back(token);
    probs->push_back(1.0f);
  }
}

void WriteDense(const sampling::DraftDistribution& d, int64_t token, int64_t vocab_size,
                v1::DenseDistribution* out) {
  auto* field = out->mutable_probs();
  if (d.kind == sampling::DraftDistribution::Kind::kDense) {
    at::Tensor cpu = d.dense.to(at::kCPU, at::kFloat).contiguous();
    field->Reserve(cpu.numel());
    for (int64_t v = 0; v < cpu.numel(); ++v) field->AddAlreadyReserved(cpu.data_ptr<float>()[v]);
    return;
  }
  std::vector<int64_t> ids;
  std::vector<float> probs;
  NonzeroEntries(d, token, &ids, &probs);
  int64_t size = vocab_size;
  for (int64_t id : ids) size = std::max(size, id + 1);
  field->Resize(static_cast<int>(size), 0.0f);
  for (size_t k = 0; k < ids.size(); ++k) field->Set(static_cast<int>(ids[k]), probs[k]);
}

}  // namespace

void ToProto(const decoding::Draft& draft, v1::DistributionEncoding encoding, int64_t vocab_size,
             google::protobuf::RepeatedPtrField<v1::DraftedToken>* out) {
  using Kind = sampling::DraftDistribution::Kind;
  for (size_t i = 0; i < draft.tokens.size(); ++i) {
    v1::DraftedToken* t = out->Add();
    t->set_token_id(draft.tokens[i]);
    if (i >= draft.dists.size()) continue;
    const sampling::DraftDistribution& d = draft.dists[i];
    v1::DraftDistribution* wire = t->mutable_distribution();
    // A forced encoding re-packs the same exact values (an n-gram draft has
    // none to re-pack).
    Kind kind = d.kind;
    if (kind != Kind::kNone && encoding == v1::DISTRIBUTION_ENCODING_DENSE) kind = Kind::kDense;
    if (kind != Kind::kNone && encoding == v1::DISTRIBUTION_ENCODING_SPARSE) kind = Kind::kSparse;
    switch (kind) {
      case Kind::kDense:
        WriteDense(d, draft.tokens[i], vocab_size, wire->mutable_dense());
        break;
      case Kind::kSparse: {
        std::vector<int64_t> ids;
        std::vector<float> probs;
        NonzeroEntries(d, draft.tokens[i], &ids, &probs);
        for (size_t k = 0; k < ids.size(); ++k) {
          wire->mutable_sparse()->add_token_ids(ids[k]);
          wire->mutable_sparse()->add_probs(probs[k]);
        }
        break;
      }
      case Kind::kOneHot:
        wire->mutable_one_hot();
        break;
      case Kind::kNone:
        wire->mutable_none();
        break;
    }
  }
}

void AppendLogprobs(absl::Span<const sampling::TokenLogprob> list,
                    google::protobuf::RepeatedPtrField<v1::TokenLogprob>* out) {
  for (const sampling::TokenLogprob& e : list) {
    v1::TokenLogprob* t = out->Add();
    t->set_token_id(e.token);
    t->set_logprob(static_cast<float>(e.logprob));
  }
}

std::vector<sampling::TokenLogprob> LogprobsOf(
    const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& list) {
  std::vector<sampling::TokenLogprob> out;
  out.reserve(list.size());
  for (const v1::TokenLogprob& t : list) {
    out.push_back({static_cast<int64_t>(t.token_id()), t.logprob()});
  }
  return out;
}

void ToProto(const sampling::StepResult& step, bool logprobs, int top_n,
             v1::GeneratedToken* out) {
  out->set_token_id(step.token);
  if (logprobs) out->set_logprob(static_cast<float>(step.logprob));
  const size_t alternatives = std::min<size_t>(std::max(top_n, 0), step.top.size());
  AppendLogprobs(absl::MakeConstSpan(step.top).subspan(0, alternatives),
                 out->mutable_top_logprobs());
  AppendLogprobs(step.raw_distribution, out->mutable_raw_distribution());
  AppendLogprobs(step.processed_distribution, out->mutable_processed_distribution());
}

sampling::StepResult FromProto(const v1::GeneratedToken& token) {
  sampling::StepResult s;
  s.token = token.token_id();
  s.logprob = token.has_logprob() ? token.logprob() : 0.0;
  s.prob = std::exp(s.logprob);
  s.top = LogprobsOf(token.top_logprobs());
  s.raw_distribution = LogprobsOf(token.raw_distribution());
  s.processed_distribution = LogprobsOf(token.processed_distribution());
  return s;
}

void ToProto(const model::ModelInfo& info, v1::ModelInfo* out) {
  out->set_model_name(info.name);
  out->set_architecture(model::FamilyName(info.architecture, info.variant));
  out->set_vocab_size(info.vocab_size);
  out->set_context_length(info.context_length);
  out->set_num_layers(info.num_layers);
  out->set_dtype(info.dtype == at::kBFloat16 ? v1::DTYPE_BFLOAT16
                 : info.dtype == at::kHalf   ? v1::DTYPE_FLOAT16
                                             : v1::DTYPE_FLOAT32);
  out->set_device(info.device.str());
  out->set_kv_cache_bytes_per_token(info.kv_bytes_per_token);
  out->set_supports_early_exit(info.num_layers > 1);
  out->set_default_exit_layer(info.default_early_exit_layer);
  for (int64_t id : info.eos_token_ids) out->add_eos_token_ids(id);
}

void ToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace tandem::services
