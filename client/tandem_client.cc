#include "client/tandem_client.h"

#include <chrono>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "services/common/channel.h"

namespace tandem::client {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(ns % 1000000000);
}

}  // namespace

absl::StatusOr<v1::GenerateRequest> BuildRequest(const GenerateOptions& o) {
  v1::GenerateRequest r;
  r.set_request_id(o.request_id);
  for (const std::string& p : o.prompts) r.add_prompts()->set_text(p);
  for (const auto& ids : o.prompt_token_ids) {
    auto* t = r.add_prompts()->mutable_token_ids();
    for (uint32_t id : ids) t->add_ids(id);
  }
  if (r.prompts_size() == 0) return absl::InvalidArgumentError("no prompt given");
  v1::GenerationConfig* c = r.mutable_config();
  c->set_num_return_sequences(o.num_return_sequences);
  v1::SamplingParams* s = c->mutable_sampling();
  if (o.preset == "creative") s->set_preset(v1::SAMPLING_PRESET_CREATIVE);
  else if (o.preset == "precise") s->set_preset(v1::SAMPLING_PRESET_PRECISE);
  else if (o.preset == "balanced") s->set_preset(v1::SAMPLING_PRESET_BALANCED);
  else if (o.preset == "deterministic") s->set_preset(v1::SAMPLING_PRESET_DETERMINISTIC);
  else if (!o.preset.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown preset \"", o.preset, "\"; expected creative, precise, balanced or deterministic"));
  }
  if (o.temperature) s->set_temperature(*o.temperature);
  if (o.top_k) s->set_top_k(*o.top_k);
  if (o.top_p) s->set_top_p(*o.top_p);
  if (o.min_p) s->set_min_p(*o.min_p);
  if (o.typical_p) s->set_typical_p(*o.typical_p);
  if (o.repetition_penalty) s->set_repetition_penalty(*o.repetition_penalty);
  if (o.presence_penalty) s->set_presence_penalty(*o.presence_penalty);
  if (o.frequency_penalty) s->set_frequency_penalty(*o.frequency_penalty);
  if (o.seed) s->set_seed(*o.seed);
  v1::StoppingCriteria* stop = c->mutable_stopping();
  if (o.max_new_tokens) stop->set_max_new_tokens(*o.max_new_tokens);
  stop->set_min_new_tokens(o.min_new_tokens);
  for (const std::string& x : o.stop_strings) stop->add_stop_strings(x);
  if (o.max_time) SetDuration(*o.max_time, stop->mutable_max_time());
  v1::SpeculationConfig* spec = c->mutable_speculation();
  if (o.speculation == "draft") spec->set_mode(v1::SPECULATION_MODE_DRAFT_MODEL);
  else if (o.speculation == "self") spec->set_mode(v1::SPECULATION_MODE_SELF_SPECULATIVE);
  else if (o.speculation == "ngram") spec->set_mode(v1::SPECULATION_MODE_NGRAM);
  else if (o.speculation == "off") spec->set_mode(v1::SPECULATION_MODE_OFF);
  else if (!o.speculation.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown speculation mode \"", o.speculation, "\"; expected draft, self, ngram or off"));
  }
  if (o.adaptive) {
    spec->mutable_adaptive();  // The server's limits and default starting length.
  } else if (o.draft_length) {
    spec->set_fixed_draft_length(*o.draft_length);
  }
  if (o.exit_layer) spec->mutable_self_speculative()->set_exit_layer(*o.exit_layer);
  spec->set_disable_pipelining(!o.pipelined);
  if (o.tree_alternatives.has_value()) {
    spec->mutable_tree()->set_alternatives(*o.tree_alternatives);
    spec->mutable_tree()->set_depth(o.tree_depth);
  }
  c->mutable_output()->set_logprobs(o.logprobs > 0);
  c->mutable_output()->set_top_logprobs(o.logprobs);
  c->mutable_output()->set_include_speculation_stats(o.speculation_stats);
  c->mutable_output()->set_distribution_top_n(o.distribution_top_n);
  if (!o.relevance) return r;
  v1::RelevanceOptions* rel = c->mutable_output()->mutable_relevance();
  rel->set_enabled(true);
  if (o.relevance_method == "ig") rel->set_method(v1::RELEVANCE_METHOD_INTEGRATED_GRADIENTS);
  else if (o.relevance_method == "ixg") rel->set_method(v1::RELEVANCE_METHOD_INPUT_X_GRADIENT);
  else if (!o.relevance_method.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown relevance method \"", o.relevance_method, "\"; expected ig or ixg"));
  }
  if (o.relevance_baseline == "mean") rel->set_baseline(v1::RELEVANCE_BASELINE_MEAN_EMBEDDING);
  else if (o.relevance_baseline == "zero") rel->set_baseline(v1::RELEVANCE_BASELINE_ZERO);
  else if (!o.relevance_baseline.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown relevance baseline \"", o.relevance_baseline, "\"; expected mean or zero"));
  }
  if (o.relevance_steps) rel->set_steps(*o.relevance_steps);
  if (o.relevance_top_n) rel->set_top_n(*o.relevance_top_n);
  rel->set_dense(o.relevance_dense);
  return r;
}

TandemClient::TandemClient(const std::string& address)
    : stub_(v1::GenerationService::NewStub(*services::MakeChannel(address))) {}

absl::StatusOr<std::unique_ptr<TandemClient>> TandemClient::Create(
    const std::string& address, const services::ChannelSecurity& security) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = services::MakeChannel(address, security);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<TandemClient>(
      new TandemClient(v1::GenerationService::NewStub(*std::move(channel))));
}

absl::StatusOr<v1::GenerateResponse> TandemClient::Generate(const v1::GenerateRequest& request,
                                                            absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
  v1::GenerateResponse response;
  grpc::Status s = stub_->Generate(&context, request, &response);
  if (!s.ok()) return FromGrpc(s);
  return response;
}

absl::Status TandemClient::GenerateStream(
    const v1::GenerateRequest& request,
    const std::function<bool(const v1::GenerateStreamResponse&)>& on_message,
    absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
  v1::GenerateStreamRequest stream_request;
  stream_request.set_request_id(request.request_id());
  *stream_request.mutable_prompts() = request.prompts();
  *stream_request.mutable_config() = request.config();
  auto reader = stub_->GenerateStream(&context, stream_request);
  v1::GenerateStreamResponse message;
  while (reader->Read(&message)) {
    if (!on_message(message)) {
      context.TryCancel();
      break;
    }
  }
  return FromGrpc(reader->Finish());
}

}  // namespace tandem::client
