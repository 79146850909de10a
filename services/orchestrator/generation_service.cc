#include "services/orchestrator/generation_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "decoding/backend_beam_search.h"
#include "decoding/generator.h"
#include "decoding/replica_failover.h"
#include "sampling/rng.h"
#include "services/common/convert.h"
#include "services/common/log.h"
#include "services/common/relevance_convert.h"
#include "services/common/status.h"
#include "services/orchestrator/grpc_incoming_call.h"
#include "services/orchestrator/sequence_text.h"

namespace tandem::services {

struct GenerationServiceImpl::SequenceOutput {
  absl::Status status;
  uint32_t prompt_index = 0;
  uint32_t sequence_index = 0;
  uint64_t seed = 0;
  decoding::GenerationResult result;
  std::string text;
  std::optional<std::string> matched_stop;
  int64_t prompt_tokens = 0;
  std::optional<double> score;  // Beam search, or with logprobs.
  // One per generated token, with OutputOptions.relevance.
  std::vector<model::TokenRelevance> relevance;
};

namespace {

// The decoded bytes of a generated token and of its top alternatives.
void SetPieces(const tokenizer::Tokenizer& tokenizer, v1::GeneratedToken& token) {
  if (absl::StatusOr<std::string> piece = tokenizer.TokenBytes(token.token_id()); piece.ok()) {
    token.set_piece(*std::move(piece));
  }
  for (auto* list : {token.mutable_top_logprobs(), token.mutable_raw_distribution(),
                     token.mutable_processed_distribution()}) {
    for (v1::TokenLogprob& alt : *list) {
      if (absl::StatusOr<std::string> piece = tokenizer.TokenBytes(alt.token_id()); piece.ok()) {
        alt.set_piece(*std::move(piece));
      }
    }
  }
}

// With relevance: the prompt's ids and pieces (what relevance positions
// [0, prompt length) refer to).
void AddPromptTokens(const tokenizer::Tokenizer& tokenizer, const ValidatedGeneration& v,
                     uint32_t prompt_index,
                     google::protobuf::RepeatedPtrField<v1::GeneratedToken>* out) {
  if (!v.relevance) return;
  for (int64_t id : v.prompts[prompt_index]) {
    v1::GeneratedToken* t = out->Add();
    t->set_token_id(id);
    SetPieces(tokenizer, *t);
  }
}

v1::FinishReason ToProto(decoding::FinishReason r) {
  switch (r) {
    case decoding::FinishReason::kEos: return v1::FINISH_REASON_EOS;
    case decoding::FinishReason::kStopString: return v1::FINISH_REASON_STOP_STRING;
    case decoding::FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case decoding::FinishReason::kMaxTime: return v1::FINISH_REASON_MAX_TIME;
    case decoding::FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void FillStats(const decoding::GenerationResult& r, int64_t prompt_tokens,
               decoding::SpeculationMode mode, bool speculation, v1::GenerationStats* out) {
  out->set_prompt_tokens(prompt_tokens);
  out->set_generated_tokens(r.tokens.size());
  services::ToProto(r.total_time, out->mutable_total_time());
  services::ToProto(r.time_to_first_token, out->mutable_time_to_first_token());
  if (r.tokens.size() > 1) {
    services::ToProto((r.total_time - r.time_to_first_token) / (r.tokens.size() - 1),
                      out->mutable_mean_inter_token_latency());
  }
  const double seconds = absl::ToDoubleSeconds(r.total_time);
  out->set_tokens_per_second(seconds > 0 ? r.tokens.size() / seconds : 0);
  if (!speculation) return;
  const decoding::SpeculationStats& s = r.stats;
  v1::SpeculationStats* spec = out->mutable_speculation();
  spec->set_mode(r.stats.fell_back_to_target_only ? v1::SPECULATION_MODE_OFF
                                                   : SpeculationModeToProto(mode));
  spec->set_drafted_tokens(s.drafted);
  spec->set_accepted_tokens(s.accepted);
  spec->set_acceptance_rate(s.acceptance_rate());
  spec->set_mean_accepted_length(s.mean_accepted_length());
  spec->set_target_passes(s.rounds);
  for (size_t i = 0; i < s.drafted_at.size(); ++i) {
    v1::PositionAcceptance* p = spec->add_per_position_acceptance();
    p->set_position(i + 1);
    p->set_drafted(s.drafted_at[i]);
    p->set_accepted(s.accepted_at[i]);
  }
  services::ToProto(s.draft_time, spec->mutable_draft_time());
  services::ToProto(s.verify_time, spec->mutable_verify_time());
  services::ToProto(s.rpc_time, spec->mutable_rpc_time());
  spec->set_pre_drafts(s.pre_drafts);
  spec->set_pre_draft_hits(s.pre_draft_hits);
  services::ToProto(s.draft_time_hidden, spec->mutable_draft_time_hidden());
  spec->set_tree_alternatives(s.tree_alternatives);
  spec->set_tree_alternative_hits(s.tree_alternative_hits);
}

// GeneratedSequence.score without beam search: the sum of the logprobs the
// response carries (float on the wire, so a client can recompute it).
double SumOfLogprobs(const std::vector<sampling::StepResult>& tokens) {
  double sum = 0;
  for (const sampling::StepResult& t : tokens) sum += static_cast<float>(t.logprob);
  return sum;
}

// The backends one sequence runs on: the replicas of the moment, least
// loaded first, each seen through the request's scope (deadline,
// cancellation, request id), behind failover. Holds the replicas alive and
// counts the sequence on the ones it starts on while it lives.
struct SequenceBackends {
  std::vector<TargetPool::Replica> target_replicas;
  std::vector<DraftPool::Replica> draft_replicas;
  std::vector<std::unique_ptr<decoding::TargetBackend>> target_views;
  std::vector<std::unique_ptr<decoding::DraftBackend>> draft_views;
  std::unique_ptr<decoding::FailoverTargetBackend> target;  // Null without replicas.
  std::unique_ptr<decoding::FailoverDraftBackend> draft;    // Null without drafts.
  TargetPool* target_pool;
  DraftPool* draft_pool;

  SequenceBackends(const Backends& backends, const decoding::RequestScope& scope,
                   const decoding::ReplicaListeners& listeners)
      : target_pool(backends.targets), draft_pool(backends.drafts) {
    target_replicas = target_pool->Snapshot();
    if (target_replicas.empty()) return;
    std::vector<decoding::TargetBackend*> targets;
    for (const TargetPool::Replica& r : target_replicas) {
      target_views.push_back(r.backend->ForRequest(scope));
      targets.push_back(target_views.back() ? target_views.back().get() : r.backend.get());
    }
    target = std::make_unique<decoding::FailoverTargetBackend>(targets, 0, listeners.failover,
                                                               listeners.spill);
    target_pool->CountSequence(target_replicas[0].backend.get(), +1);
    if (draft_pool == nullptr) return;
    draft_replicas = draft_pool->Snapshot();
    if (draft_replicas.empty()) return;
    std::vector<decoding::DraftBackend*> drafts;
    for (const DraftPool::Replica& r : draft_replicas) {
      draft_views.push_back(r.backend->ForRequest(scope));
      drafts.push_back(draft_views.back() ? draft_views.back().get() : r.backend.get());
    }
    draft = std::make_unique<decoding::FailoverDraftBackend>(drafts, 0, listeners.failover,
                                                             listeners.spill);
    draft_pool->CountSequence(draft_replicas[0].backend.get(), +1);
  }
  ~SequenceBackends() {
    if (!target_replicas.empty()) target_pool->CountSequence(target_replicas[0].backend.get(), -1);
    if (!draft_replicas.empty()) draft_pool->CountSequence(draft_replicas[0].backend.get(), -1);
  }
  SequenceBackends(const SequenceBackends&) = delete;
  SequenceBackends& operator=(const SequenceBackends&) = delete;

  static absl::Status NoTargets() {
    return absl::UnavailableError("no target replica is reachable (discovery found none)");
  }
};

// The relevance of `tokens` (generated after `prompt`) from the target, or
// nothing when the request did not ask or the sequence was cancelled.
absl::StatusOr<std::vector<model::TokenRelevance>> SequenceRelevance(
    const ValidatedGeneration& v, const std::vector<int64_t>& prompt,
    const decoding::GenerationResult& result, decoding::TargetBackend& target) {
  if (!v.relevance || result.tokens.empty() ||
      result.finish == decoding::FinishReason::kCancelled) {
    return std::vector<model::TokenRelevance>();
  }
  decoding::RelevanceItem item;
  item.tokens = prompt;
  for (const sampling::StepResult& t : result.tokens) item.tokens.push_back(t.token);
  item.first_generated = static_cast<int64_t>(prompt.size());
  item.options = v.relevance->options;
  item.dense = v.relevance->dense;
  return target.Relevance(item);
}

// `call` (null without a server context) must outlive the scope.
decoding::RequestScope ScopeOf(const std::string& request_id, const GrpcIncomingCall* call) {
  decoding::RequestScope scope;
  scope.request_id = request_id;
  if (call != nullptr) {
    scope.incoming_call = call;
    const auto deadline = call->context().deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      scope.deadline = absl::FromChrono(deadline);
    }
  }
  return scope;
}

}  // namespace

GenerationServiceImpl::GenerationServiceImpl(Backends backends,
                                             const tokenizer::Tokenizer& tokenizer,
                                             GenerationLimits limits,
                                             const tokenizer::LoadedChatTemplate* chat_template)
    : backends_(std::move(backends)),
      tokenizer_(tokenizer),
      chat_template_(chat_template),
      limits_(limits) {
  limits_.draft_available = backends_.drafts != nullptr;
  if (!limits_.draft_available && limits_.default_mode == decoding::SpeculationMode::kDraftModel) {
    limits_.default_mode = decoding::SpeculationMode::kOff;
  }
  sequences_ = std::make_unique<decoding::RoundPool>(std::max(1, limits_.sequence_threads));
}

GenerationServiceImpl::~GenerationServiceImpl() {
  ending_ = true;  // What still runs ends after its current round.
  sequences_.reset();
}

int GenerationServiceImpl::sequence_threads() const { return sequences_->threads(); }

void GenerationServiceImpl::EndInFlight() {
  ending_ = true;
  LogEvent(LogLevel::kInfo, "orchestrator", "ending_in_flight", "",
           {{"active_sequences", ActiveSequences()}});
}

int64_t GenerationServiceImpl::ActiveSequences() {
  std::lock_guard<std::mutex> lock(admission_mu_);
  return active_sequences_;
}

absl::StatusOr<ValidatedGeneration> GenerationServiceImpl::Begin(
    const char* method, const std::string& request_id,
    const google::protobuf::RepeatedPtrField<v1::Prompt>& prompts,
    const v1::GenerationConfig& config, absl::Time start) {
  LogEvent(LogLevel::kDebug, "orchestrator", "request_started", request_id,
           {{"method", method}, {"prompts", static_cast<int64_t>(prompts.size())}});
  absl::StatusOr<ValidatedGeneration> v =
      ValidateGenerate(request_id, prompts, config, backends_.target_info,
                       backends_.eos_token_ids, tokenizer_, limits_, chat_template_);
  if (!v.ok()) Finish(method, request_id, ToGrpcStatus(v.status()), start);
  return v;
}

decoding::ReplicaListeners GenerationServiceImpl::ReplicaLogger(const std::string& request_id) {
  decoding::ReplicaListeners listeners;
  listeners.failover = [this, request_id](size_t from, size_t to, int64_t tokens) {
    metrics_.RecordFailover();
    LogEvent(LogLevel::kWarn, "orchestrator", "replica_failover", request_id,
             {{"from_replica", static_cast<int64_t>(from)},
              {"to_replica", static_cast<int64_t>(to)},
              {"reprefilled_tokens", tokens}});
  };
  listeners.spill = [this, request_id](size_t from, size_t to) {
    metrics_.RecordSpill();
    LogEvent(LogLevel::kInfo, "orchestrator", "replica_spill", request_id,
             {{"from_replica", static_cast<int64_t>(from)},
              {"to_replica", static_cast<int64_t>(to)}});
  };
  return listeners;
}

absl::Status GenerationServiceImpl::Admit(int64_t n) {
  std::lock_guard<std::mutex> lock(admission_mu_);
  if (active_sequences_ + n > limits_.max_active_sequences) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the orchestrator is running ", active_sequences_, " of at most ",
        limits_.max_active_sequences, " sequences and this request needs ", n,
        "; retry with backoff or add orchestrator replicas"));
  }
  active_sequences_ += n;
  metrics_.AddActiveSequences(n);
  return absl::OkStatus();
}

void GenerationServiceImpl::Release(int64_t n) {
  std::lock_guard<std::mutex> lock(admission_mu_);
  active_sequences_ -= n;
  metrics_.AddActiveSequences(-n);
}

absl::StatusOr<std::vector<GenerationServiceImpl::SequenceOutput>> GenerationServiceImpl::RunBeams(
    const ValidatedGeneration& v, const grpc::ServerContextBase* context,
    const ChunkFn& on_chunk) {
  std::optional<GrpcIncomingCall> call;
  if (context != nullptr) call.emplace(*context);
  const decoding::RequestScope scope = ScopeOf(v.request_id, call ? &*call : nullptr);
  std::vector<std::vector<SequenceOutput>> per_prompt(v.prompts.size());
  std::vector<absl::Status> status(v.prompts.size());
  std::vector<std::thread> threads;
  for (size_t p = 0; p < v.prompts.size(); ++p) {
    threads.emplace_back([&, p] {
      const absl::Time start = absl::Now();
      decoding::BackendBeamSearchRequest r{v.prompts[p], v.base.session, v.beam};
      const int64_t prompt_tokens = static_cast<int64_t>(v.prompts[p].size());
      if (v.max_length) {
        r.options.max_new_tokens =
            std::min<int64_t>(r.options.max_new_tokens, *v.max_length - prompt_tokens);
      }
      r.top_logprobs = v.top_logprobs;
      if (v.base.stop.max_time != absl::InfiniteDuration()) r.deadline = start + v.base.stop.max_time;
      if (!v.stop_strings.empty()) {
        // A beam whose text contains a stop string ends like one ending in EOS.
        r.options.ends_hypothesis = [&](const std::vector<int64_t>& tokens) {
          absl::StatusOr<std::string> text =
              tokenizer_.Decode(std::vector<int32_t>(tokens.begin(), tokens.end()));
          if (!text.ok()) return false;
          for (const std::string& stop : v.stop_strings) {
            if (absl::StrContains(*text, stop)) return true;
          }
          return false;
        };
      }
      // One returned sequence streams as its tokens become certain; several
      // are only known at the end.
      const bool stream_best = on_chunk != nullptr && v.beam.num_return_sequences == 1;
      SequenceText streamed_text(tokenizer_, v.stop_strings);
      std::optional<std::string> streamed_stop;
      std::optional<absl::Duration> first_token;
      auto emit = [&](uint32_t sequence_index, SequenceText& text,
                      absl::Span<const sampling::StepResult> tokens,
                      std::optional<std::string>& matched) {
        std::vector<int64_t> ids;
        for (const sampling::StepResult& t : tokens) ids.push_back(t.token);
        absl::StatusOr<SequenceText::Update> update = text.Push(ids);
        if (update.ok() && update->matched_stop) matched = update->matched_stop;
        if (on_chunk == nullptr) return;
        v1::StreamChunk chunk;
        chunk.set_prompt_index(p);
        chunk.set_sequence_index(sequence_index);
        if (update.ok()) chunk.set_text_delta(update->delta);
        for (const sampling::StepResult& t : tokens) {
          v1::GeneratedToken* g = chunk.add_tokens();
          services::ToProto(t, v.logprobs, v.top_logprobs, g);
          SetPieces(tokenizer_, *g);
        }
        on_chunk(chunk);
      };
      if (stream_best) {
        r.on_final_tokens = [&](absl::Span<const sampling::StepResult> tokens) {
          if (!first_token) first_token = absl::Now() - start;
          emit(0, streamed_text, tokens, streamed_stop);
        };
      }
      SequenceBackends sequence(backends_, scope, ReplicaLogger(v.request_id));
      if (sequence.target == nullptr) {
        status[p] = SequenceBackends::NoTargets();
        return;
      }
      if (v.base.speculation.mode == decoding::SpeculationMode::kDraftModel &&
          sequence.draft != nullptr) {
        r.draft = sequence.draft.get();
        r.draft_steps = v.base.speculation.draft_length;
        r.adaptive_draft_steps = v.base.speculation.adaptive;
      }
      auto searched = decoding::RunBackendBeamSearch(r, *sequence.target);
      if (!searched.ok()) {
        status[p] = searched.status();
        return;
      }
      metrics_.RecordBeamSearch(r.draft != nullptr, prompt_tokens, searched->steps,
                                searched->target_passes, searched->drafted_nodes,
                                searched->draft_fell_back,
                                first_token.value_or(absl::Now() - start));
      for (size_t i = 0; i < searched->sequences.size(); ++i) {
        decoding::BeamSearchSequence& found = searched->sequences[i];
        SequenceOutput o;
        o.prompt_index = p;
        o.sequence_index = i;
        o.prompt_tokens = prompt_tokens;
        o.score = found.hypothesis.score;
        o.result.tokens = std::move(found.steps);
        // Target passes, the tree tokens they scored, and the steps the
        // trees added beyond one per pass.
        o.result.stats.rounds = searched->target_passes;
        o.result.stats.drafted = searched->drafted_nodes;
        o.result.stats.accepted = searched->steps - searched->target_passes;
        o.result.stats.fell_back_to_target_only = searched->draft_fell_back;
        o.result.total_time = absl::Now() - start;
        o.result.time_to_first_token = first_token.value_or(o.result.total_time);
        if (stream_best) {
          const std::string tail = streamed_text.Finish();
          if (!tail.empty()) {
            v1::StreamChunk chunk;
            chunk.set_prompt_index(p);
            chunk.set_sequence_index(0);
            chunk.set_text_delta(tail);
            on_chunk(chunk);
          }
          o.text = streamed_text.text();
          o.matched_stop = streamed_stop;
        } else {
          SequenceText text(tokenizer_, v.stop_strings);
          emit(i, text, o.result.tokens, o.matched_stop);
          const std::string tail = text.Finish();
          if (!tail.empty() && on_chunk) {
            v1::StreamChunk chunk;
            chunk.set_prompt_index(p);
            chunk.set_sequence_index(i);
            chunk.set_text_delta(tail);
            on_chunk(chunk);
          }
          o.text = text.text();
        }
        const std::vector<int64_t>& ids = found.hypothesis.tokens;
        const bool eos = !ids.empty() &&
                         std::find(v.beam.eos_token_ids.begin(), v.beam.eos_token_ids.end(),
                                   ids.back()) != v.beam.eos_token_ids.end();
        o.result.finish = o.matched_stop    ? decoding::FinishReason::kStopString
                          : eos             ? decoding::FinishReason::kEos
                          : searched->timed_out ? decoding::FinishReason::kMaxTime
                                                : decoding::FinishReason::kLength;
        per_prompt[p].push_back(std::move(o));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<SequenceOutput> outputs;
  for (size_t p = 0; p < v.prompts.size(); ++p) {
    if (!status[p].ok()) return status[p];
    for (auto& o : per_prompt[p]) outputs.push_back(std::move(o));
  }
  return outputs;
}

// One request's plain (non-beam) sequences while they run: shared by their
// tasks; the last task to end reports the outcome.
struct GenerationServiceImpl::RequestRun {
  GenerationServiceImpl* service = nullptr;
  ValidatedGeneration v;
  std::optional<GrpcIncomingCall> call;
  decoding::RequestScope scope;
  ChunkFn on_chunk;
  DoneFn on_done;
  std::vector<SequenceOutput> outputs;
  std::atomic<size_t> remaining{0};
  int64_t admitted = 0;
  // Per prompt, the return sequences after the first: they start once the
  // first has run its first round (a target runs a prompt's last chunk with
  // the first round), so that their prompt is copied from its KV cache (a
  // model server's prefix sharing) instead of run n times.
  std::mutex siblings_mu;
  std::vector<std::vector<size_t>> siblings;

  // Starts the sequences `k` as pool tasks (the ones the pool refuses, when
  // it is shutting down, end at once).
  void Start(const std::shared_ptr<RequestRun>& self, const std::vector<size_t>& ks);

  // Called once by each prompt's first sequence after its first round, or
  // when it ends before one (whatever the outcome): starts that prompt's
  // other sequences.
  void StartSiblings(const std::shared_ptr<RequestRun>& self, uint32_t prompt) {
    std::vector<size_t> ks;
    {
      std::lock_guard<std::mutex> lock(siblings_mu);
      ks.swap(siblings[prompt]);
    }
    Start(self, ks);
  }

  // Called once per sequence, after it closed its sessions.
  void SequenceEnded() {
    if (--remaining > 0) return;
    service->Release(admitted);
    absl::Status failed;
    for (const SequenceOutput& o : outputs) {
      if (!o.status.ok()) {
        failed = o.status;
        break;
      }
    }
    // Last: the call may end in it.
    if (failed.ok()) {
      on_done(v, std::move(outputs));
    } else {
      on_done(v, failed);
    }
  }
};

// One sequence of a RequestRun as a RoundPool task: the first step opens
// its sessions, each further step is one round, the last one finishes the
// sequence's output.
class GenerationServiceImpl::SequenceTask : public decoding::RoundPool::Task {
 public:
  SequenceTask(std::shared_ptr<RequestRun> run, size_t k) : run_(std::move(run)), k_(k) {}

  bool Step() override {
    SequenceOutput& o = run_->outputs[k_];
    if (loop_ == nullptr) {
      Open(o);
      return loop_ == nullptr ? End() : false;
    }
    absl::StatusOr<bool> done = loop_->Round();
    StartSiblingsOnce();
    if (!done.ok()) {
      o.status = done.status();
      return End();
    }
    if (!*done) return false;
    Complete(o);
    return End();
  }

 private:
  void Open(SequenceOutput& o) {
    GenerationServiceImpl& service = *run_->service;
    const ValidatedGeneration& v = run_->v;
    decoding::GenerateRequest r = v.base;
    r.prompt = v.prompts[o.prompt_index];
    r.session.seed = o.seed;
    r.session.params.seed = o.seed;
    if (v.max_length) {
      r.stop.max_new_tokens =
          std::min<int64_t>(r.stop.max_new_tokens, *v.max_length - r.prompt.size());
    }
    backends_ = std::make_unique<SequenceBackends>(service.backends_, run_->scope,
                                                   service.ReplicaLogger(v.request_id));
    if (backends_->target == nullptr) {
      o.status = SequenceBackends::NoTargets();
      return;
    }
    text_ = std::make_unique<SequenceText>(service.tokenizer_, v.stop_strings);
    auto callback = [this, &o](absl::Span<const sampling::StepResult> tokens)
        -> std::optional<decoding::FinishReason> {
      const ValidatedGeneration& v = run_->v;
      std::vector<int64_t> ids;
      for (const auto& t : tokens) ids.push_back(t.token);
      absl::StatusOr<SequenceText::Update> update = text_->Push(ids);
      if (update.ok() && run_->on_chunk) {
        v1::StreamChunk chunk;
        chunk.set_prompt_index(o.prompt_index);
        chunk.set_sequence_index(o.sequence_index);
        chunk.set_text_delta(update->delta);
        for (const auto& t : tokens) {
          v1::GeneratedToken* g = chunk.add_tokens();
          services::ToProto(t, v.logprobs, v.top_logprobs, g);
          SetPieces(run_->service->tokenizer_, *g);
        }
        if (!run_->on_chunk(chunk)) return decoding::FinishReason::kCancelled;
      }
      if (update.ok() && update->matched_stop) {
        o.matched_stop = update->matched_stop;
        return decoding::FinishReason::kStopString;
      }
      if (run_->scope.cancelled() || run_->service->ending_) {
        return decoding::FinishReason::kCancelled;
      }
      return std::nullopt;
    };
    absl::StatusOr<std::unique_ptr<decoding::GenerationLoop>> loop = decoding::GenerationLoop::Start(
        std::move(r), *backends_->target, backends_->draft.get(), std::move(callback));
    if (!loop.ok()) {
      o.status = loop.status();
      return;
    }
    loop_ = *std::move(loop);
  }

  void Complete(SequenceOutput& o) {
    GenerationServiceImpl& service = *run_->service;
    const ValidatedGeneration& v = run_->v;
    o.result = loop_->TakeResult();
    absl::StatusOr<std::vector<model::TokenRelevance>> relevance =
        SequenceRelevance(v, v.prompts[o.prompt_index], o.result, *backends_->target);
    if (!relevance.ok()) {
      o.status = relevance.status();
      return;
    }
    o.relevance = *std::move(relevance);
    if (v.logprobs) o.score = SumOfLogprobs(o.result.tokens);
    service.metrics_.RecordSequence(v.base.speculation.mode, o.prompt_tokens, o.result);
    if (o.result.stats.fell_back_to_target_only) {
      LogEvent(LogLevel::kWarn, "orchestrator", "draft_fallback", v.request_id,
               {{"prompt_index", static_cast<int64_t>(o.prompt_index)},
                {"sequence_index", static_cast<int64_t>(o.sequence_index)}});
    }
    const std::string tail = text_->Finish();
    if (!tail.empty() && run_->on_chunk) {
      v1::StreamChunk chunk;
      chunk.set_prompt_index(o.prompt_index);
      chunk.set_sequence_index(o.sequence_index);
      chunk.set_text_delta(tail);
      run_->on_chunk(chunk);
    }
    o.text = text_->text();
  }

  // Closes the sessions (and uncounts the replicas) before reporting.
  // A prompt's first sequence starts the others (RequestRun::StartSiblings).
  void StartSiblingsOnce() {
    const SequenceOutput& o = run_->outputs[k_];
    if (o.sequence_index != 0 || siblings_started_) return;
    siblings_started_ = true;
    run_->StartSiblings(run_, o.prompt_index);
  }

  bool End() {
    StartSiblingsOnce();
    loop_.reset();
    backends_.reset();
    std::shared_ptr<RequestRun> run = std::move(run_);
    run->SequenceEnded();
    return true;
  }

  std::shared_ptr<RequestRun> run_;
  const size_t k_;
  bool siblings_started_ = false;
  std::unique_ptr<SequenceBackends> backends_;
  std::unique_ptr<SequenceText> text_;
  // After the backends and the text: destroyed first (it uses both).
  std::unique_ptr<decoding::GenerationLoop> loop_;
};

void GenerationServiceImpl::RunAll(ValidatedGeneration v, const grpc::ServerContextBase* context,
                                   ChunkFn on_chunk, DoneFn on_done) {
  const int64_t sequences =
      v.beam_search ? static_cast<int64_t>(v.prompts.size())
                    : static_cast<int64_t>(v.prompts.size()) * v.num_return_sequences;
  if (absl::Status admitted = Admit(sequences); !admitted.ok()) {
    on_done(v, admitted);
    return;
  }
  if (v.beam_search) {
    // Beam searches block: a thread of their own while they run.
    std::thread([this, v = std::move(v), context, on_chunk = std::move(on_chunk),
                 on_done = std::move(on_done), sequences] {
      absl::StatusOr<std::vector<SequenceOutput>> outputs = RunBeams(v, context, on_chunk);
      Release(sequences);
      on_done(v, std::move(outputs));
    }).detach();
    return;
  }
  auto run = std::make_shared<RequestRun>();
  run->service = this;
  run->v = std::move(v);
  if (context != nullptr) run->call.emplace(*context);
  run->scope = ScopeOf(run->v.request_id, run->call ? &*run->call : nullptr);
  run->on_chunk = std::move(on_chunk);
  run->on_done = std::move(on_done);
  run->admitted = sequences;
  const int per_prompt = run->v.num_return_sequences;
  const size_t total = run->v.prompts.size() * per_prompt;
  run->outputs.resize(total);
  run->remaining = total;
  for (size_t k = 0; k < total; ++k) {
    SequenceOutput& out = run->outputs[k];
    out.prompt_index = k / per_prompt;
    out.sequence_index = k % per_prompt;
    out.seed = run->v.seed ? *run->v.seed + k : sampling::Rng::SeedFromOs();
    out.prompt_tokens = run->v.prompts[out.prompt_index].size();
  }
  run->siblings.resize(run->v.prompts.size());
  std::vector<size_t> first;
  for (size_t k = 0; k < total; ++k) {
    if (run->outputs[k].sequence_index == 0) {
      first.push_back(k);
    } else {
      run->siblings[run->outputs[k].prompt_index].push_back(k);
    }
  }
  run->Start(run, first);
}

void GenerationServiceImpl::RequestRun::Start(const std::shared_ptr<RequestRun>& self,
                                              const std::vector<size_t>& ks) {
  for (size_t k : ks) {
    if (!service->sequences_->Submit(std::make_unique<SequenceTask>(self, k))) {
      // The service is being destroyed: this sequence never starts (nor do
      // the ones waiting for it).
      outputs[k].status = absl::UnavailableError("the orchestrator is shutting down");
      if (outputs[k].sequence_index == 0) StartSiblings(self, outputs[k].prompt_index);
      SequenceEnded();
    }
  }
}

static std::string RequestIdOrNew(const std::string& given) {
  if (!given.empty()) return given;
  return absl::StrCat("req-", absl::Hex(sampling::Rng::SeedFromOs(), absl::kZeroPad16));
}

void GenerationServiceImpl::Finish(const char* method, const std::string& request_id,
                                   const grpc::Status& status, absl::Time start) {
  const absl::Duration latency = absl::Now() - start;
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  metrics_.RecordRequest(method, code, latency);
  LogFields fields = {{"method", method},
                      {"code", code},
                      {"latency_ms", absl::ToDoubleMilliseconds(latency)}};
  if (!status.ok()) fields.push_back({"error", status.error_message()});
  LogEvent(status.ok() || status.error_code() == grpc::StatusCode::CANCELLED ? LogLevel::kInfo
                                                                             : LogLevel::kWarn,
           "orchestrator", "request_finished", request_id, fields);
}

// A GenerateStream call's writer: messages are queued and written one at a
// time (the callback API allows one write in flight); the call finishes
// once the queue is empty. Deletes itself when gRPC is done with it.
class GenerationServiceImpl::StreamReactor
    : public grpc::ServerWriteReactor<v1::GenerateStreamResponse> {
 public:
  explicit StreamReactor(std::string request_id) : request_id_(std::move(request_id)) {}

  // Queues a message (the first one carries the request id). False once
  // the client is gone: nothing more will be written.
  bool Send(v1::GenerateStreamResponse message) {
    const v1::GenerateStreamResponse* start = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken_ || closing_) return false;
      if (!sent_any_) message.set_request_id(request_id_);
      sent_any_ = true;
      queue_.push_back(std::move(message));  // References to elements stay valid.
      if (!writing_) {
        writing_ = true;
        start = &queue_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
    return true;
  }

  // Ends the call with `status` after the queued messages are written.
  void Close(grpc::Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = std::move(status);
      if (writing_) return;  // OnWriteDone finishes.
    }
    Finish(*closing_);
  }

  void OnWriteDone(bool ok) override {
    const v1::GenerateStreamResponse* next = nullptr;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.pop_front();
      if (!ok) {
        broken_ = true;
        queue_.clear();
      }
      if (!queue_.empty()) {
        next = &queue_.front();
      } else {
        writing_ = false;
        finish = closing_;
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (finish) {
      Finish(*finish);
    }
  }

  void OnDone() override { delete this; }

 private:
  const std::string request_id_;
  std::mutex mu_;
  std::deque<v1::GenerateStreamResponse> queue_;
  bool writing_ = false;
  bool broken_ = false;
  bool sent_any_ = false;
  std::optional<grpc::Status> closing_;
};

grpc::ServerUnaryReactor* GenerationServiceImpl::Generate(grpc::CallbackServerContext* context,
                                                          const v1::GenerateRequest* request,
                                                          v1::GenerateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  const std::string request_id = RequestIdOrNew(request->request_id());
  absl::StatusOr<ValidatedGeneration> v =
      Begin("Generate", request_id, request->prompts(), request->config(), start);
  if (!v.ok()) {
    reactor->Finish(ToGrpcStatus(v.status()));
    return reactor;
  }
  RunAll(*std::move(v), context, nullptr,
         [this, reactor, response, request_id, start](
             const ValidatedGeneration& v, absl::StatusOr<std::vector<SequenceOutput>> outputs) {
           grpc::Status status;
           if (outputs.ok()) {
             response->set_request_id(request_id);
             FillResponse(v, *outputs, start, response);
           } else {
             status = ToGrpcStatus(outputs.status());
           }
           Finish("Generate", request_id, status, start);
           reactor->Finish(status);
         });
  return reactor;
}

grpc::ServerWriteReactor<v1::GenerateStreamResponse>* GenerationServiceImpl::GenerateStream(
    grpc::CallbackServerContext* context, const v1::GenerateStreamRequest* request) {
  const absl::Time start = absl::Now();
  const std::string request_id = RequestIdOrNew(request->request_id());
  auto* reactor = new StreamReactor(request_id);
  absl::StatusOr<ValidatedGeneration> v =
      Begin("GenerateStream", request_id, request->prompts(), request->config(), start);
  if (!v.ok()) {
    reactor->Close(ToGrpcStatus(v.status()));
    return reactor;
  }
  auto on_chunk = [reactor](const v1::StreamChunk& chunk) {
    v1::GenerateStreamResponse message;
    *message.mutable_chunk() = chunk;
    return reactor->Send(std::move(message));
  };
  RunAll(*std::move(v), context, on_chunk,
         [this, reactor, context, request_id, start](
             const ValidatedGeneration& v, absl::StatusOr<std::vector<SequenceOutput>> outputs) {
           grpc::Status status;
           if (!outputs.ok()) {
             status = ToGrpcStatus(outputs.status());
           } else {
             for (const SequenceOutput& o : *outputs) {
               v1::GenerateStreamResponse message;
               v1::SequenceEnd* end = message.mutable_sequence_end();
               end->set_prompt_index(o.prompt_index);
               end->set_sequence_index(o.sequence_index);
               end->set_finish_reason(ToProto(o.result.finish));
               if (o.matched_stop) end->set_matched_stop_string(*o.matched_stop);
               end->set_seed(o.seed);
               if (o.score) end->set_score(*o.score);
               for (const model::TokenRelevance& r : o.relevance) {
                 services::ToProto(r, v.relevance->dense, end->add_relevance());
               }
               AddPromptTokens(tokenizer_, v, o.prompt_index, end->mutable_prompt_tokens());
               FillStats(o.result, o.prompt_tokens, v.base.speculation.mode,
                         v.include_speculation_stats, end->mutable_stats());
               reactor->Send(std::move(message));
             }
             if (context->IsCancelled()) {
               status = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
             }
           }
           Finish("GenerateStream", request_id, status, start);
           reactor->Close(status);
         });
  return reactor;
}

void GenerationServiceImpl::FillResponse(const ValidatedGeneration& val,
                                         const std::vector<SequenceOutput>& outputs,
                                         absl::Time start, v1::GenerateResponse* response) {
  const ValidatedGeneration* v = &val;
  decoding::GenerationResult total;
  int64_t prompt_tokens = 0;
  for (const SequenceOutput& o : outputs) {
    v1::GeneratedSequence* seq = response->add_sequences();
    seq->set_prompt_index(o.prompt_index);
    seq->set_sequence_index(o.sequence_index);
    seq->set_text(o.text);
    for (size_t i = 0; i < o.result.tokens.size(); ++i) {
      v1::GeneratedToken* g = seq->add_tokens();
      services::ToProto(o.result.tokens[i], v->logprobs, v->top_logprobs, g);
      SetPieces(tokenizer_, *g);
      if (i < o.relevance.size()) {
        services::ToProto(o.relevance[i], v->relevance->dense, g->mutable_relevance());
      }
    }
    AddPromptTokens(tokenizer_, *v, o.prompt_index, seq->mutable_prompt_tokens());
    seq->set_finish_reason(ToProto(o.result.finish));
    if (o.matched_stop) seq->set_matched_stop_string(*o.matched_stop);
    seq->set_seed(o.seed);
    if (o.score) seq->set_score(*o.score);
    FillStats(o.result, o.prompt_tokens, v->base.speculation.mode, v->include_speculation_stats,
              seq->mutable_stats());
    total.tokens.insert(total.tokens.end(), o.result.tokens.begin(), o.result.tokens.end());
    total.stats.drafted += o.result.stats.drafted;
    total.stats.accepted += o.result.stats.accepted;
    total.stats.rounds += o.result.stats.rounds;
    total.stats.plain_rounds += o.result.stats.plain_rounds;
    total.stats.draft_time += o.result.stats.draft_time;
    total.stats.verify_time += o.result.stats.verify_time;
    total.stats.rpc_time += o.result.stats.rpc_time;
    total.stats.pre_drafts += o.result.stats.pre_drafts;
    total.stats.pre_draft_hits += o.result.stats.pre_draft_hits;
    total.stats.draft_time_hidden += o.result.stats.draft_time_hidden;
    total.stats.tree_alternatives += o.result.stats.tree_alternatives;
    total.stats.tree_alternative_hits += o.result.stats.tree_alternative_hits;
    // Per draft position, summed over the sequences.
    const auto& drafted_at = o.result.stats.drafted_at;
    const auto& accepted_at = o.result.stats.accepted_at;
    if (total.stats.drafted_at.size() < drafted_at.size()) {
      total.stats.drafted_at.resize(drafted_at.size());
      total.stats.accepted_at.resize(drafted_at.size());
    }
    for (size_t i = 0; i < drafted_at.size(); ++i) {
      total.stats.drafted_at[i] += drafted_at[i];
      if (i < accepted_at.size()) total.stats.accepted_at[i] += accepted_at[i];
    }
    if (total.time_to_first_token == absl::ZeroDuration() ||
        o.result.time_to_first_token < total.time_to_first_token) {
      total.time_to_first_token = o.result.time_to_first_token;
    }
    prompt_tokens += o.prompt_tokens;
  }
  total.total_time = absl::Now() - start;
  FillStats(total, prompt_tokens, v->base.speculation.mode, v->include_speculation_stats,
            response->mutable_stats());
}

}  // namespace tandem::services
