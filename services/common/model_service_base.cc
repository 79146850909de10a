#include "services/common/model_service_base.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/common/convert.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace tandem::services {
namespace {

constexpr size_t kMaxRequestIdBytes = 128;

// The x-request-id metadata, else `field`; cut to 128 bytes (it is only ever
// logged, JSON-escaped).
std::string RequestIdOf(const grpc::ServerContext* context, absl::string_view field) {
  absl::string_view id = field;
  if (context != nullptr) {
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("x-request-id");
    if (it != metadata.end()) id = absl::string_view(it->second.data(), it->second.size());
  }
  return std::string(id.substr(0, kMaxRequestIdBytes));
}

// Caller mistakes are warnings; server-side failures are errors.
LogLevel LevelOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNIMPLEMENTED:
      return LogLevel::kError;
    default:
      return LogLevel::kWarn;
  }
}

}  // namespace

ModelServiceBase::ModelServiceBase(std::string role, const ModelServerOptions& options,
                                   model::Model& model, OpenFn open, CloseFn close,
                                   ForkFn fork, PrefillFn prefill, bool leaves_prompt_tail)
    : options_(options),
      model_(model),
      open_(std::move(open)),
      close_(std::move(close)),
      fork_(std::move(fork)),
      prefill_(std::move(prefill)),
      leaves_prompt_tail_(leaves_prompt_tail),
      metrics_(std::move(role)),
      reaper_([this] { ReapLoop(); }) {
  metrics_.SetKvBudgetBytes(model.kv_budget_bytes());
}

ModelServiceBase::~ModelServiceBase() { StopReaper(); }

void ModelServiceBase::StopReaper() {
  stopping_ = true;
  if (reaper_.joinable()) reaper_.join();
}

void ModelServiceBase::ReapLoop() {
  const absl::Duration tick = std::min(absl::Milliseconds(200), options_.session_ttl / 4);
  while (!stopping_) {
    absl::SleepFor(tick);
    for (uint64_t id : leases_.TakeExpired()) {
      absl::Status closed;
      {
        std::lock_guard<std::mutex> lock(engine_mutex_);
        closed = close_(id);
        RefreshGaugesLocked();
      }
      const std::string request_id = ForgetSession(id);
      if (!closed.ok()) continue;  // Already gone from the engine.
      metrics_.SessionsExpired(1);
      LogEvent(LogLevel::kInfo, role(), "session_expired", request_id, {{"session_id", id}});
    }
  }
}

void ModelServiceBase::RefreshGaugesLocked() {
  metrics_.SetSessions(static_cast<int64_t>(leases_.size()));
  metrics_.SetKvCacheBytes(model_.kv_cache_bytes());
  const decoding::PrefixCacheStats prefix = PrefixCacheStatsLocked();
  metrics_.SetPrefixCache(prefix.entries, prefix.hits, prefix.reused_tokens);
}

void ModelServiceBase::RecordBatchLocked(absl::string_view op, size_t items) {
  metrics_.RecordBatch(op, items);
  metrics_.SetKvCacheBytes(model_.kv_cache_bytes());
}

void ModelServiceBase::RememberRequestId(uint64_t session, const std::string& request_id) {
  if (request_id.empty()) return;
  std::lock_guard<std::mutex> lock(request_ids_mu_);
  request_ids_[session] = request_id;
}

std::string ModelServiceBase::ForgetSession(uint64_t session) {
  std::lock_guard<std::mutex> lock(request_ids_mu_);
  tails_.erase(session);
  auto it = request_ids_.find(session);
  if (it == request_ids_.end()) return "";
  std::string id = std::move(it->second);
  request_ids_.erase(it);
  return id;
}

grpc::Status ModelServiceBase::Instrumented(
    absl::string_view method, const grpc::ServerContext* context,
    absl::string_view request_id_field,
    const std::function<absl::Status(const RpcCall&)>& body) {
  const absl::Time start = absl::Now();
  const RpcCall call{std::string(method), RequestIdOf(context, request_id_field), context};
  const grpc::Status status = ToGrpcStatus(body(call));
  const absl::Duration latency = absl::Now() - start;
  metrics_.RecordRpc(method, status.error_code(), latency);
  const LogLevel level = status.ok() ? LogLevel::kDebug : LevelOf(status.error_code());
  if (level >= MinLogLevel()) {
    LogFields fields = {{"method", call.method},
                        {"code", StatusCodeName(status.error_code())},
                        {"latency_ms", absl::ToDoubleMilliseconds(latency)}};
    if (!status.ok()) fields.push_back({"message", status.error_message()});
    LogEvent(level, role(), status.ok() ? "rpc" : "rpc_failed", call.request_id, fields);
  }
  return status;
}

void ModelServiceBase::SetItemStatus(const RpcCall& call, uint64_t session,
                                     const absl::Status& status, v1::ItemStatus* out) {
  ToItemStatus(status, out);
  if (status.ok()) return;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  metrics_.RecordItemError(call.method, code);
  LogEvent(LevelOf(code), role(), "item_failed", call.request_id,
           {{"method", call.method},
            {"session_id", session},
            {"code", StatusCodeName(code)},
            {"message", std::string(status.message())}});
}

absl::Status ModelServiceBase::QueueFull() const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the server already has ", options_.max_queued_items,
      " items waiting for a batch (max_queued_items); retry later"));
}

absl::Status ModelServiceBase::CheckNumDraftTokens(int64_t num_draft_tokens) const {
  if (num_draft_tokens >= 1 && num_draft_tokens <= options_.max_draft_length) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("`num_draft_tokens` must be in [1, ",
                                                 options_.max_draft_length, "], got ",
                                                 num_draft_tokens));
}

absl::Status ModelServiceBase::DoOpen(const RpcCall& call, const v1::OpenSessionRequest& request,
                                      v1::OpenSessionResponse* response) {
  const absl::Time start = absl::Now();
  if (request.request_id().size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError("`request_id` is longer than 128 bytes");
  }
  absl::StatusOr<decoding::SessionOptions> session_options = FromProto(request.config());
  if (!session_options.ok()) return session_options.status();
  std::vector<int64_t> prompt(request.prompt_token_ids().begin(),
                              request.prompt_token_ids().end());
  if (request.has_max_sequence_length()) {
    if (request.max_sequence_length() == 0) {
      return absl::InvalidArgumentError(
          "`max_sequence_length` must be in [prompt length, context length], got 0");
    }
    session_options->max_sequence_length = request.max_sequence_length();
  }
  absl::Duration ttl = options_.session_ttl;
  if (request.has_ttl_hint()) {
    ttl = std::clamp(FromProto(request.ttl_hint()), absl::Seconds(1), options_.session_ttl);
  }
  // Refuse at once when full, without waiting for the engine mutex (held by
  // running batches and other prefills): overload must answer quickly.
  // Counts this open until its session holds a lease (then the lease
  // counts it): never both, or opens near the limit are refused while
  // this one waits for the engine mutex (at 64 streams on 64 sessions that
  // refused 15% of requests).
  struct Opening {
    std::atomic<int64_t>& n;
    bool counted = true;
    explicit Opening(std::atomic<int64_t>& c) : n(c) { ++n; }
    void Leased() {
      if (counted) --n;
      counted = false;
    }
    ~Opening() { Leased(); }
  } opening(opening_);
  if (options_.max_sessions > 0 &&
      static_cast<int64_t>(leases_.size()) + opening_.load() - 1 >= options_.max_sessions) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", options_.max_sessions, " sessions are in use; retry later"));
  }
  absl::StatusOr<decoding::SessionId> id;
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    id = open_(prompt, *session_options);
    if (id.ok()) {
      // A session still prefilling is counted by `opening` above, not by a
      // lease: counting it twice refused opens below the limit.
      if (!prefill_) {
        leases_.Renew(*id, ttl);
        opening.Leased();
      }
      RefreshGaugesLocked();
    }
  }
  if (!id.ok()) return id.status();
  int64_t tail_positions = 0;
  if (prefill_) {
    // Outside the engine mutex: the prompt runs in chunks inside engine
    // steps, between which other sessions' work proceeds.
    const absl::StatusOr<int64_t> tail =
        RunPrefill(*id, static_cast<int64_t>(prompt.size()), call);
    const absl::Status prefilled = tail.status();
    if (tail.ok() && *tail > 0) {
      tail_positions = *tail;
      std::lock_guard<std::mutex> lock(request_ids_mu_);
      tails_[*id] = *tail;
    }
    if (!prefilled.ok()) {
      std::lock_guard<std::mutex> lock(engine_mutex_);
      (void)close_(*id);
      RefreshGaugesLocked();
      return prefilled;
    }
    leases_.Renew(*id, ttl);
    opening.Leased();
    std::lock_guard<std::mutex> lock(engine_mutex_);
    RefreshGaugesLocked();
  }
  if (call.context != nullptr && call.context->IsCancelled()) {
    // The caller is gone (cancelled, or its deadline passed while the
    // session opened): it will never learn the id, so nobody would close it.
    leases_.Remove(*id);
    std::lock_guard<std::mutex> lock(engine_mutex_);
    (void)close_(*id);
    RefreshGaugesLocked();
    (void)ForgetSession(*id);
    return absl::CancelledError(
        "the caller went away (cancelled or past its deadline) while the session opened");
  }
  metrics_.SessionOpened();
  RememberRequestId(*id, call.request_id);
  const absl::Duration prefill = absl::Now() - start;
  LogEvent(LogLevel::kInfo, role(), "session_opened", call.request_id,
           {{"session_id", *id},
            {"prompt_tokens", prompt.size()},
            {"ttl_s", absl::ToDoubleSeconds(ttl)},
            {"prefill_ms", absl::ToDoubleMilliseconds(prefill)},
            // Prompt positions left to the first step (--prompt_tail_with_first_step).
            {"tail_positions", tail_positions}});
  response->set_session_id(*id);
  response->set_sequence_length(prompt.size());
  ToProto(ttl, response->mutable_ttl());
  ToProto(prefill, response->mutable_prefill_time());
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ModelServiceBase::RunPrefill(decoding::SessionId id,
                                                     int64_t prompt_size, const RpcCall& call) {
  // What is left to run (all but the pending last token): the prompt at
  // first (less when a cached prefix was copied), then what the engine
  // reports. Asking for no more than that keeps a step's row budget honest.
  int64_t remaining = std::max<int64_t>(0, prompt_size - 1);
  const bool leave_tail = leaves_prompt_tail_ && options_.prompt_tail_with_first_step;
  while (remaining > 0) {
    if (leave_tail && remaining <= options_.prefill_chunk) return remaining;
    if (call.context != nullptr && call.context->IsCancelled()) {
      return absl::CancelledError("the open was cancelled (or ran past its deadline) during prefill");
    }
    const decoding::PrefillOutcome done =
        prefill_({id, std::min(options_.prefill_chunk, remaining)});
    if (!done.status.ok()) return done.status;
    remaining = done.remaining;
  }
  return 0;
}

int64_t ModelServiceBase::TakePromptTail(uint64_t session) {
  std::lock_guard<std::mutex> lock(request_ids_mu_);
  auto it = tails_.find(session);
  if (it == tails_.end()) return 0;
  const int64_t rows = it->second;
  tails_.erase(it);
  return rows;
}

absl::Status ModelServiceBase::DoClose(const RpcCall& call,
                                       const v1::CloseSessionRequest& request) {
  leases_.Remove(request.session_id());
  absl::Status closed;
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    closed = close_(request.session_id());
    RefreshGaugesLocked();
  }
  const std::string opened_by = ForgetSession(request.session_id());
  if (closed.ok()) {
    metrics_.SessionClosed();
    LogEvent(LogLevel::kInfo, role(), "session_closed",
             call.request_id.empty() ? opened_by : call.request_id,
             {{"session_id", request.session_id()}});
  }
  return closed;
}

absl::Status ModelServiceBase::DoFork(const RpcCall& call, const v1::ForkSessionRequest& request,
                                      v1::ForkSessionResponse* response) {
  if (request.request_id().size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError("`request_id` is longer than 128 bytes");
  }
  absl::Duration ttl = options_.session_ttl;
  if (request.has_ttl_hint()) {
    ttl = std::clamp(FromProto(request.ttl_hint()), absl::Seconds(1), options_.session_ttl);
  }
  absl::StatusOr<decoding::SessionId> id;
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    id = fork_(request.source_session_id(), request.length());
    if (id.ok()) {
      leases_.Renew(*id, ttl);
      leases_.Renew(request.source_session_id(), options_.session_ttl);
      RefreshGaugesLocked();
    }
  }
  if (!id.ok()) return id.status();
  metrics_.SessionOpened();
  RememberRequestId(*id, call.request_id);
  LogEvent(LogLevel::kInfo, role(), "session_forked", call.request_id,
           {{"session_id", *id},
            {"source_session_id", request.source_session_id()},
            {"length", request.length()}});
  response->set_session_id(*id);
  response->set_sequence_length(request.length());
  ToProto(ttl, response->mutable_ttl());
  return absl::OkStatus();
}

absl::Status ModelServiceBase::DoModelInfo(v1::GetModelInfoResponse* response) {
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    ToProto(model_.info(), response->mutable_model());
    response->mutable_limits()->set_kv_budget_bytes(model_.kv_budget_bytes());
    response->mutable_load()->set_kv_cache_bytes(model_.kv_cache_bytes());
  }
  response->mutable_model()->mutable_tokenizer()->set_name(options_.tokenizer_identity);
  v1::ServerLimits* limits = response->mutable_limits();
  limits->set_max_sessions(options_.max_sessions);
  limits->set_max_items_per_call(options_.max_items_per_call);
  limits->set_max_draft_length(options_.max_draft_length);
  limits->set_max_tree_nodes(decoding::kMaxTreeNodes);
  limits->set_max_message_bytes(options_.max_message_bytes);
  ToProto(options_.session_ttl, limits->mutable_max_session_ttl());
  response->mutable_load()->set_open_sessions(static_cast<uint32_t>(open_sessions()));
  return absl::OkStatus();
}

absl::Status ModelServiceBase::CheckItems(const std::vector<uint64_t>& sessions) {
  if (sessions.empty() ||
      static_cast<int>(sessions.size()) > options_.max_items_per_call) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`items` must have 1 to ", options_.max_items_per_call, " entries, got ",
        sessions.size()));
  }
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t id : sessions) {
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("session ", id, " appears twice in `items`"));
    }
  }
  for (uint64_t id : sessions) leases_.RenewIfPresent(id, options_.session_ttl);
  return absl::OkStatus();
}

}  // namespace tandem::services
