#include "tests/proto/full_messages.h"

#include <cstdint>
#include <utility>

#include "google/protobuf/duration.pb.h"
#include "proto/tandem/v1/common.pb.h"
#include "proto/tandem/v1/draft_service.pb.h"
#include "proto/tandem/v1/generation_service.pb.h"
#include "proto/tandem/v1/session.pb.h"
#include "proto/tandem/v1/target_service.pb.h"

namespace tandem::proto_testing {
namespace {

namespace v1 = ::tandem::v1;
using ::google::protobuf::Duration;
using ::google::protobuf::Message;

Duration Millis(int64_t ms) {
  Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  return d;
}

v1::SamplingParams FullSampling() {
  v1::SamplingParams s;
  s.set_preset(v1::SAMPLING_PRESET_BALANCED);
  s.set_temperature(0.7f);
  s.set_top_k(50);
  s.set_top_p(0.9f);
  s.set_min_p(0.05f);
  s.set_typical_p(0.95f);
  s.set_repetition_penalty(1.1f);
  s.set_presence_penalty(0.5f);
  s.set_frequency_penalty(-0.25f);
  s.set_no_repeat_ngram_size(3);
  s.add_banned_token_ids(7);
  v1::LogitBias* bias = s.add_logit_bias();
  bias->set_token_id(42);
  bias->set_bias(-2.5f);
  s.set_seed(1234);
  return s;
}

v1::RelevanceOptions FullRelevanceOptions() {
  v1::RelevanceOptions r;
  r.set_enabled(true);
  r.set_method(v1::RELEVANCE_METHOD_INTEGRATED_GRADIENTS);
  r.set_baseline(v1::RELEVANCE_BASELINE_ZERO);
  r.set_steps(16);
  r.set_top_n(4);
  r.set_dense(true);
  return r;
}

v1::TokenRelevance FullRelevance(uint32_t position) {
  v1::TokenRelevance r;
  r.set_position(position);
  v1::ScoredPosition* top = r.add_top();
  top->set_position(position - 1);
  top->set_score(-0.75f);
  r.add_dense_scores(0.5f);
  r.add_dense_scores(-0.75f);
  r.set_target(3.25);
  r.set_baseline(0.5);
  return r;
}

v1::GenerationConfig FullGenerationConfig(bool adaptive) {
  v1::GenerationConfig c;
  c.set_num_return_sequences(2);
  *c.mutable_sampling() = FullSampling();
  v1::StoppingCriteria* stop = c.mutable_stopping();
  stop->set_max_new_tokens(128);
  stop->set_max_length(2048);
  stop->set_min_new_tokens(4);
  stop->add_eos_token_ids(2);
  stop->set_ignore_eos(true);
  stop->add_stop_strings("\n\n");
  *stop->mutable_max_time() = Millis(30500);
  v1::BeamSearchParams* beam = c.mutable_beam_search();
  beam->set_num_beams(4);
  beam->set_length_penalty(0.8f);
  beam->set_early_stopping(v1::EARLY_STOPPING_NEVER);
  v1::SpeculationConfig* spec = c.mutable_speculation();
  spec->set_mode(v1::SPECULATION_MODE_DRAFT_MODEL);
  if (adaptive) {
    v1::AdaptiveDraftLength* a = spec->mutable_adaptive();
    a->set_min_draft_length(1);
    a->set_max_draft_length(8);
    a->set_initial_draft_length(4);
  } else {
    spec->set_fixed_draft_length(5);
  }
  spec->mutable_self_speculative()->set_exit_layer(6);
  spec->mutable_ngram()->set_min_ngram_size(2);
  spec->mutable_ngram()->set_max_ngram_size(4);
  spec->set_disable_pipelining(true);
  spec->mutable_tree()->set_alternatives(1);
  spec->mutable_tree()->set_depth(2);
  v1::OutputOptions* out = c.mutable_output();
  out->set_logprobs(true);
  out->set_top_logprobs(3);
  out->set_include_speculation_stats(true);
  out->set_distribution_top_n(32);
  *out->mutable_relevance() = FullRelevanceOptions();
  return c;
}

v1::GeneratedToken FullToken(uint32_t id) {
  v1::GeneratedToken t;
  t.set_token_id(id);
  t.set_piece("\xe2\x82");  // An incomplete UTF-8 sequence: pieces are bytes.
  t.set_logprob(-0.5f);
  v1::TokenLogprob* alt = t.add_top_logprobs();
  alt->set_token_id(id + 1);
  alt->set_logprob(-1.25f);
  alt->set_piece(" the");
  v1::TokenLogprob* raw = t.add_raw_distribution();
  raw->set_token_id(id);
  raw->set_logprob(-0.25f);
  raw->set_piece("a");
  v1::TokenLogprob* processed = t.add_processed_distribution();
  processed->set_token_id(id);
  processed->set_logprob(-0.125f);
  processed->set_piece("a");
  *t.mutable_relevance() = FullRelevance(5);
  return t;
}

v1::GenerationStats FullStats() {
  v1::GenerationStats g;
  g.set_prompt_tokens(12);
  g.set_generated_tokens(34);
  *g.mutable_total_time() = Millis(1500);
  *g.mutable_time_to_first_token() = Millis(120);
  *g.mutable_mean_inter_token_latency() = Millis(40);
  g.set_tokens_per_second(24.5);
  v1::SpeculationStats* s = g.mutable_speculation();
  s->set_mode(v1::SPECULATION_MODE_SELF_SPECULATIVE);
  s->set_drafted_tokens(40);
  s->set_accepted_tokens(30);
  s->set_acceptance_rate(0.75);
  s->set_mean_accepted_length(3.5);
  v1::PositionAcceptance* p = s->add_per_position_acceptance();
  p->set_position(1);
  p->set_drafted(10);
  p->set_accepted(9);
  s->set_target_passes(12);
  *s->mutable_draft_time() = Millis(200);
  *s->mutable_verify_time() = Millis(900);
  *s->mutable_rpc_time() = Millis(15);
  s->set_pre_drafts(9);
  s->set_pre_draft_hits(4);
  *s->mutable_draft_time_hidden() = Millis(3);
  s->set_tree_alternatives(6);
  s->set_tree_alternative_hits(2);
  return g;
}

v1::SessionConfig FullSessionConfig() {
  v1::SessionConfig c;
  *c.mutable_sampling() = FullSampling();
  c.set_min_new_tokens(3);
  c.add_eos_token_ids(2);
  c.set_logprobs(true);
  c.set_top_logprobs(2);
  c.set_distribution_top_n(16);
  return c;
}

v1::SequenceSync FullSync() {
  v1::SequenceSync s;
  s.set_base_length(17);
  s.add_append_token_ids(99);
  return s;
}

v1::ItemStatus FullItemStatus() {
  v1::ItemStatus s;
  s.set_code(5);  // NOT_FOUND.
  s.set_message("session 0x2a not found");
  return s;
}

// One drafted token per DraftDistribution alternative.
std::vector<v1::DraftedToken> DraftedTokensOfEveryKind() {
  std::vector<v1::DraftedToken> tokens(4);
  tokens[0].set_token_id(3);
  v1::DenseDistribution* dense = tokens[0].mutable_distribution()->mutable_dense();
  for (float p : {0.125f, 0.25f, 0.125f, 0.5f}) dense->add_probs(p);
  tokens[1].set_token_id(5);
  v1::SparseDistribution* sparse = tokens[1].mutable_distribution()->mutable_sparse();
  sparse->add_token_ids(5);
  sparse->add_probs(0.75f);
  sparse->add_token_ids(9);
  sparse->add_probs(0.25f);
  tokens[2].set_token_id(11);
  tokens[2].mutable_distribution()->mutable_one_hot();
  tokens[3].set_token_id(13);
  tokens[3].mutable_distribution()->mutable_none();
  // ProposeItem.top_logprobs: the draft's candidates at the position.
  v1::TokenLogprob* candidate = tokens[2].add_candidates();
  candidate->set_token_id(11);
  candidate->set_logprob(-0.2f);
  candidate->set_piece("b");
  return tokens;
}

template <typename T>
void Add(std::vector<std::unique_ptr<Message>>& out, T message) {
  out.push_back(std::make_unique<T>(std::move(message)));
}

void AddGenerationMessages(std::vector<std::unique_ptr<Message>>& out) {
  for (bool adaptive : {false, true}) {
    v1::GenerateRequest req;
    req.set_request_id("req-1");
    req.add_prompts()->set_text("Once upon a time");
    req.add_prompts()->mutable_token_ids()->add_ids(1);
    v1::ChatPrompt* chat = req.add_prompts()->mutable_chat();
    v1::ChatMessage* message = chat->add_messages();
    message->set_role("user");
    message->set_content("Hello");
    chat->set_add_generation_prompt(false);
    *req.mutable_config() = FullGenerationConfig(adaptive);
    Add(out, std::move(req));
  }
  v1::GenerateResponse resp;
  resp.set_request_id("req-1");
  v1::GeneratedSequence* seq = resp.add_sequences();
  seq->set_prompt_index(1);
  seq->set_sequence_index(1);
  seq->set_text(" there was");
  *seq->add_tokens() = FullToken(10);
  seq->set_finish_reason(v1::FINISH_REASON_STOP_STRING);
  seq->set_matched_stop_string("\n\n");
  seq->set_score(-3.5);
  seq->set_seed(77);
  *seq->mutable_stats() = FullStats();
  *seq->add_prompt_tokens() = FullToken(1);
  *resp.mutable_stats() = FullStats();
  Add(out, std::move(resp));

  v1::GenerateStreamRequest stream_req;
  stream_req.set_request_id("req-2");
  stream_req.add_prompts()->set_text("Hi");
  *stream_req.mutable_config() = FullGenerationConfig(true);
  Add(out, std::move(stream_req));

  v1::GenerateStreamResponse chunk;
  chunk.set_request_id("req-2");
  v1::StreamChunk* c = chunk.mutable_chunk();
  c->set_prompt_index(1);
  c->set_sequence_index(1);
  c->set_text_delta(" world");
  *c->add_tokens() = FullToken(20);
  Add(out, std::move(chunk));

  v1::GenerateStreamResponse end;
  v1::SequenceEnd* e = end.mutable_sequence_end();
  e->set_prompt_index(1);
  e->set_sequence_index(1);
  e->set_finish_reason(v1::FINISH_REASON_EOS);
  e->set_matched_stop_string("END");
  e->set_score(-1.5);
  e->set_seed(78);
  *e->mutable_stats() = FullStats();
  *e->add_relevance() = FullRelevance(7);
  *e->add_prompt_tokens() = FullToken(1);
  Add(out, std::move(end));
}

void AddSessionMessages(std::vector<std::unique_ptr<Message>>& out) {
  v1::OpenSessionRequest open;
  open.set_request_id("req-1");
  open.add_prompt_token_ids(1);
  *open.mutable_config() = FullSessionConfig();
  *open.mutable_ttl_hint() = Millis(60000);
  open.set_max_sequence_length(512);
  Add(out, std::move(open));

  v1::OpenSessionResponse opened;
  opened.set_session_id(0x2a);
  opened.set_sequence_length(1);
  *opened.mutable_ttl() = Millis(30000);
  *opened.mutable_prefill_time() = Millis(8);
  Add(out, std::move(opened));

  v1::ForkSessionRequest fork;
  fork.set_source_session_id(0x2a);
  fork.set_length(1);
  *fork.mutable_config() = FullSessionConfig();
  fork.set_request_id("req-1");
  *fork.mutable_ttl_hint() = Millis(60000);
  Add(out, std::move(fork));

  v1::ForkSessionResponse forked;
  forked.set_session_id(0x2b);
  forked.set_sequence_length(1);
  *forked.mutable_ttl() = Millis(30000);
  Add(out, std::move(forked));

  v1::CloseSessionRequest close;
  close.set_session_id(0x2a);
  Add(out, std::move(close));
  Add(out, v1::CloseSessionResponse());

  Add(out, v1::GetModelInfoRequest());
  v1::GetModelInfoResponse info;
  v1::ModelInfo* m = info.mutable_model();
  m->set_model_name("tiny-llama");
  m->set_architecture("llama");
  m->set_vocab_size(32000);
  m->mutable_tokenizer()->set_name("llama-2");
  m->mutable_tokenizer()->set_sha256("9e55");
  m->set_context_length(4096);
  m->set_num_layers(22);
  m->set_dtype(v1::DTYPE_BFLOAT16);
  m->set_device("cpu");
  m->set_kv_cache_bytes_per_token(22528);
  m->add_eos_token_ids(2);
  m->set_supports_early_exit(true);
  m->set_default_exit_layer(6);
  v1::ServerLimits* limits = info.mutable_limits();
  limits->set_max_sessions(256);
  info.mutable_load()->set_open_sessions(17);
  info.mutable_load()->set_kv_cache_bytes(1u << 20);
  limits->set_kv_budget_bytes(1u << 30);
  limits->set_max_items_per_call(64);
  limits->set_max_draft_length(16);
  limits->set_max_tree_nodes(16);
  limits->set_max_message_bytes(64u << 20);
  *limits->mutable_max_session_ttl() = Millis(600000);
  Add(out, std::move(info));
}

void AddDraftMessages(std::vector<std::unique_ptr<Message>>& out) {
  v1::ProposeRequest req;
  v1::ProposeItem* item = req.add_items();
  item->set_session_id(0x2a);
  *item->mutable_sync() = FullSync();
  item->set_num_draft_tokens(4);
  item->set_guess_first(true);
  item->set_encoding(v1::DISTRIBUTION_ENCODING_SPARSE);
  item->set_tree_alternatives(1);
  item->set_tree_depth(2);
  item->set_top_logprobs(8);
  Add(out, std::move(req));

  v1::ProposeResponse resp;
  v1::ProposeResult* result = resp.add_results();
  *result->mutable_status() = FullItemStatus();
  for (v1::DraftedToken& t : DraftedTokensOfEveryKind()) *result->add_tokens() = t;
  result->set_sequence_length(18);
  for (int i = 0; i < result->tokens_size(); ++i) result->add_parents(i - 1);
  *resp.mutable_server_time() = Millis(3);
  Add(out, std::move(resp));
}

void AddTargetMessages(std::vector<std::unique_ptr<Message>>& out) {
  v1::VerifyRequest verify;
  v1::VerifyItem* vi = verify.add_items();
  vi->set_session_id(0x2a);
  *vi->mutable_sync() = FullSync();
  for (v1::DraftedToken& t : DraftedTokensOfEveryKind()) *vi->add_draft_tokens() = t;
  for (int i = 0; i < vi->draft_tokens_size(); ++i) vi->add_draft_parents(i == 0 ? -1 : 0);
  Add(out, std::move(verify));

  v1::VerifyResponse verified;
  v1::VerifyResult* vr = verified.add_results();
  *vr->mutable_status() = FullItemStatus();
  vr->set_accepted_count(1);
  *vr->add_emitted_tokens() = FullToken(3);
  *vr->add_emitted_tokens() = FullToken(8);
  vr->set_sequence_length(20);
  vr->add_marginal_step_us(2000);
  vr->add_marginal_step_us(2100);
  vr->set_others_busy_permille(930);
  vr->add_accepted_nodes(0);
  *verified.mutable_server_time() = Millis(12);
  Add(out, std::move(verified));

  v1::DecodeRequest decode;
  v1::DecodeItem* di = decode.add_items();
  di->set_session_id(0x2a);
  *di->mutable_sync() = FullSync();
  di->set_score_only(true);
  di->set_top_logprobs(8);
  di->add_score_tokens(5);
  di->add_score_tokens(6);
  di->add_score_parents(-1);
  di->add_score_parents(0);
  Add(out, std::move(decode));

  v1::DecodeResponse decoded;
  v1::DecodeResult* dr = decoded.add_results();
  *dr->mutable_status() = FullItemStatus();
  *dr->mutable_token() = FullToken(4);
  v1::TokenLogprob* cand = dr->add_candidates();
  cand->set_token_id(4);
  cand->set_logprob(-0.1f);
  cand->set_piece("a");
  dr->set_sequence_length(21);
  *dr->add_node_candidates()->add_candidates() = *cand;
  *decoded.mutable_server_time() = Millis(9);
  Add(out, std::move(decoded));

  v1::DraftEarlyExitRequest ee;
  v1::DraftEarlyExitItem* ei = ee.add_items();
  ei->set_session_id(0x2a);
  *ei->mutable_sync() = FullSync();
  ei->set_num_draft_tokens(3);
  ei->set_exit_layer(6);
  ei->set_encoding(v1::DISTRIBUTION_ENCODING_DENSE);
  Add(out, std::move(ee));

  v1::DraftEarlyExitResponse eer;
  v1::DraftEarlyExitResult* er = eer.add_results();
  *er->mutable_status() = FullItemStatus();
  for (v1::DraftedToken& t : DraftedTokensOfEveryKind()) *er->add_tokens() = t;
  er->set_sequence_length(18);
  er->set_exit_layer(6);
  *eer.mutable_server_time() = Millis(4);
  Add(out, std::move(eer));

  v1::ComputeRelevanceRequest rel;
  rel.set_request_id("req-9");
  for (uint32_t t : {1u, 5u, 9u}) rel.add_token_ids(t);
  rel.set_first_generated(2);
  *rel.mutable_options() = FullRelevanceOptions();
  Add(out, std::move(rel));

  v1::ComputeRelevanceResponse rel_out;
  *rel_out.add_relevance() = FullRelevance(2);
  *rel_out.mutable_server_time() = Millis(30);
  Add(out, std::move(rel_out));
}

}  // namespace

std::vector<std::unique_ptr<Message>> FullyPopulatedMessages() {
  std::vector<std::unique_ptr<Message>> out;
  AddGenerationMessages(out);
  AddSessionMessages(out);
  AddDraftMessages(out);
  AddTargetMessages(out);
  return out;
}

}  // namespace tandem::proto_testing
