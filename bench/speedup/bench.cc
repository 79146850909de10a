#include "bench/speedup/bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/speedup/metrics.h"
#include "decoding/engines.h"
#include "decoding/generator.h"
#include "decoding/local_backends.h"
#include "sampling/rng.h"
#include "sampling/selector.h"
#include "services/common/model_server_options.h"
#include "services/common/server_runner.h"
#include "services/draft/draft_service.h"
#include "services/orchestrator/remote_backends.h"
#include "services/target/target_service.h"
#include "tokenizer/load_tokenizer.h"

namespace tandem::bench {
namespace {

using json = nlohmann::json;

double NowS() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
double Sec(absl::Duration d) { return absl::ToDoubleSeconds(d); }

std::string ReadFirstLine(const std::string& path, const std::string& prefix = "") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (prefix.empty() || line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

double LoadAvg1() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

// ---------------------------------------------------------------------------
// Recording wrappers: one pair per request, delegating to the shared backend
// and recording what each round drafted, accepted and cost.

class RecordingTarget : public decoding::TargetBackend {
 public:
  explicit RecordingTarget(decoding::TargetBackend& inner) : inner_(inner) {}
  model::ModelInfo Info() override { return inner_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    const double t0 = NowS();
    auto r = inner_.Open(prompt, options);
    open_s += NowS() - t0;
    return r;
  }
  absl::StatusOr<decoding::TimedVerify> Verify(const decoding::VerifyItem& item) override {
    const int drafted = static_cast<int>(item.draft.tokens.size());
    const double t0 = NowS();
    auto r = inner_.Verify(item);
    const double t = NowS() - t0;
    if (r.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      RoundRecord rec = pending;
      pending = RoundRecord();
      rec.drafted = drafted;
      rec.accepted = r->outcome.result.num_accepted;
      rec.emitted = static_cast<int>(r->outcome.result.emitted.size());
      rec.verify_call_s = t;
      rec.verify_server_s = Sec(r->server_time);
      rounds.push_back(rec);
    }
    return r;
  }
  absl::StatusOr<decoding::TimedDraft> DraftEarlyExit(const decoding::EarlyExitItem& item) override {
    const double t0 = NowS();
    auto r = inner_.DraftEarlyExit(item);
    pending.draft_call_s = NowS() - t0;
    if (r.ok()) pending.draft_server_s = Sec(r->server_time);
    return r;
  }
  absl::StatusOr<decoding::Scores> Score(const decoding::ScoreItem& item) override {
    return inner_.Score(item);
  }
  absl::StatusOr<decoding::SessionId> Fork(decoding::SessionId session, int64_t length) override {
    return inner_.Fork(session, length);
  }
  void Close(decoding::SessionId session) override { inner_.Close(session); }

  std::vector<RoundRecord> rounds;
  // Draft calls recorded since the last verify. A pipelined drafter's
  // pre-draft runs on its own thread while Verify runs, hence the lock; its
  // time lands in the round whose verify returns after it (draft work, not
  // the exposed wait, which is SpeculationStats::draft_time).
  std::mutex mu;
  RoundRecord pending;
  double open_s = 0;

 private:
  decoding::TargetBackend& inner_;
};

class RecordingDraft : public decoding::DraftBackend {
 public:
  RecordingDraft(decoding::DraftBackend& inner, RecordingTarget& sink)
      : inner_(inner), sink_(sink) {}
  model::ModelInfo Info() override { return inner_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    const double t0 = NowS();
    auto r = inner_.Open(prompt, options);
    sink_.open_s += NowS() - t0;
    return r;
  }
  absl::StatusOr<decoding::TimedDraft> Propose(const decoding::ProposeItem& item) override {
    const double t0 = NowS();
    auto r = inner_.Propose(item);
    std::lock_guard<std::mutex> lock(sink_.mu);
    sink_.pending.draft_call_s += NowS() - t0;
    if (r.ok()) sink_.pending.draft_server_s += Sec(r->server_time);
    return r;
  }
  void Close(decoding::SessionId session) override { inner_.Close(session); }

 private:
  decoding::DraftBackend& inner_;
  RecordingTarget& sink_;
};

// ---------------------------------------------------------------------------

class Progress {
 public:
  Progress(int64_t total, bool enabled) : total_(total), enabled_(enabled), start_(NowS()) {}
  void SetLabel(std::string label) {
    std::lock_guard<std::mutex> lock(mu_);
    label_ = std::move(label);
    Draw();
  }
  void Add(int64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ += n;
    Draw();
  }
  void Finish() {
    if (enabled_) std::cerr << "\n";
  }

 private:
  static std::string Clock(double s) {
    const int t = static_cast<int>(s + 0.5);
    return absl::StrFormat("%dm%02ds", t / 60, t % 60);
  }
  void Draw() {
    if (!enabled_) return;
    const double frac = total_ ? std::min(1.0, double(done_) / total_) : 1.0;
    const int width = 30;
    const int filled = static_cast<int>(frac * width);
    const double elapsed = NowS() - start_;
    const double eta = done_ > 0 ? elapsed * (total_ - done_) / done_ : 0;
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    std::cerr << absl::StrFormat("\r[%s] %3d%% %lld/%lld req | %-40s | %s ETA %s ", bar,
                                 static_cast<int>(frac * 100), static_cast<long long>(done_),
                                 static_cast<long long>(total_), label_.substr(0, 40),
                                 Clock(elapsed), Clock(eta))
              << std::flush;
  }
  std::mutex mu_;
  int64_t total_;
  int64_t done_ = 0;
  bool enabled_;
  double start_;
  std::string label_;
};

// ---------------------------------------------------------------------------

struct Config {
  std::string phase;  // sweep | baseline_end | concurrency
  std::string transport;
  std::string mode;  // target | draft | self | ngram
  std::string sampling;
  int gamma = 0;
  bool adaptive = false;
  int concurrency = 1;

  std::string Label() const {
    return absl::StrCat(transport, " ", mode, " ",
                        mode == "target" ? "" : (adaptive ? "adaptive " : absl::StrCat("g=", gamma, " ")),
                        sampling, " x", concurrency);
  }
  int Requests(int num_prompts) const {
    return concurrency <= 1 ? num_prompts : std::max(num_prompts, concurrency);
  }
};

struct Micro {
  int context = 0;
  int64_t exit_layer = 0;
  std::vector<double> target_ms;  // [k-1]: k-token full forward.
  std::vector<double> exit_ms;    // [k-1]: k-token early-exit forward.
  std::vector<double> draft_ms;   // [k-1]: k-token draft-model forward.
  double select_greedy_1_ms = 0, select_greedy_k_ms = 0;
  double select_sampled_1_ms = 0, select_sampled_k_ms = 0;
  int select_k = 0;

  double VerifyRatio(double tokens) const {  // T(tokens) / T(1), interpolated.
    if (target_ms.empty()) return 1;
    const double k = std::clamp(tokens, 1.0, double(target_ms.size()));
    const int lo = static_cast<int>(std::floor(k));
    const int hi = std::min<int>(lo + 1, target_ms.size());
    const double f = k - lo;
    return ((1 - f) * target_ms[lo - 1] + f * target_ms[hi - 1]) / target_ms[0];
  }
};

struct Result {
  Config config;
  int requests = 0;
  int64_t tokens = 0;
  double wall_s = 0;
  double tok_s = 0;
  double per_stream_tok_s = 0;
  // Sums over requests.
  int64_t rounds = 0, drafted = 0, accepted = 0;
  std::vector<int64_t> drafted_at, accepted_at;
  double draft_s = 0, verify_s = 0, rpc_s = 0, total_s = 0, open_s = 0;
  double draft_server_s = 0, verify_server_s = 0;
  int fell_back = 0;
  int64_t pre_drafts = 0, pre_draft_hits = 0;
  int64_t tree_alternatives = 0, tree_alternative_hits = 0;
  double draft_hidden_s = 0;
  AcceptanceSummary acceptance;
  double ttft_ms_mean = 0, ttft_ms_p50 = 0, itl_ms_p50 = 0, itl_ms_p99 = 0;
  double loadavg = 0;
  // Derived (filled after the sweep).
  double baseline_tok_s = 0, speedup = 0;
  double mean_gamma = 0, c_direct = 0, c_step_stats = 0, c_round_stats = 0, verify_ratio = 1;
  double pred_leviathan = 0, pred_refined = 0;
};

struct Prompt {
  int id = 0;
  std::vector<int64_t> tokens;
};

struct Transport {
  decoding::TargetBackend* target = nullptr;
  decoding::DraftBackend* draft = nullptr;
};

decoding::SpeculationMode ModeOf(const std::string& mode) {
  if (mode == "draft" || mode == "draft-seq" || mode == "tree" || mode == "tree-seq") {
    return decoding::SpeculationMode::kDraftModel;
  }
  if (mode == "self") return decoding::SpeculationMode::kSelfSpeculative;
  if (mode == "ngram") return decoding::SpeculationMode::kNgram;
  return decoding::SpeculationMode::kOff;
}

struct RequestOutcome {
  decoding::GenerationResult gen;
  std::vector<RoundRecord> rounds;
  std::vector<double> arrivals;
  std::vector<int> counts;
  double open_s = 0;
  double start_s = 0;
};

absl::StatusOr<Result> RunConfig(const Config& config, const Transport& transport,
                                 const std::vector<Prompt>& prompts, const BenchOptions& options,
                                 int max_gamma, int max_new_tokens, Progress* progress) {
  if (progress) progress->SetLabel(config.Label());
  const int n = config.Requests(static_cast<int>(prompts.size()));
  std::vector<RequestOutcome> outcomes(n);
  std::vector<absl::Status> errors(n);
  std::atomic<int> next{0};
  const double load0 = LoadAvg1();
  const auto worker = [&] {
    while (true) {
      const int i = next.fetch_add(1);
      if (i >= n) return;
      decoding::GenerateRequest request;
      request.prompt = prompts[i % prompts.size()].tokens;
      const uint64_t seed = options.seed + i;
      if (config.sampling == "sampled") {
        request.session.params.temperature = options.temperature;
        request.session.params.top_p = options.top_p;
      } else {
        request.session.params.temperature = 0.0;
      }
      request.session.params.seed = seed;
      request.session.seed = seed;
      request.stop.max_new_tokens = max_new_tokens;  // EOS ignored: fixed length.
      request.speculation.mode = ModeOf(config.mode);
      request.speculation.draft_length = config.adaptive ? std::min(4, max_gamma) : config.gamma;
      request.speculation.adaptive = config.adaptive;
      request.speculation.max_draft_length = max_gamma;
      request.speculation.pipelined = config.mode != "draft-seq" && config.mode != "tree-seq";
      if (config.mode == "tree" || config.mode == "tree-seq") {
        request.speculation.tree_alternatives = options.tree_alternatives;
        request.speculation.tree_depth = options.tree_depth;
        request.speculation.adaptive_tree = options.tree_adaptive;
      }
      RequestOutcome& out = outcomes[i];
      RecordingTarget target(*transport.target);
      std::optional<RecordingDraft> draft;
      if (transport.draft) draft.emplace(*transport.draft, target);
      out.start_s = NowS();
      auto cb = [&out](absl::Span<const sampling::StepResult> fresh)
          -> std::optional<decoding::FinishReason> {
        out.arrivals.push_back(NowS());
        out.counts.push_back(static_cast<int>(fresh.size()));
        return std::nullopt;
      };
      absl::StatusOr<decoding::GenerationResult> gen = decoding::Generate(
          request, target, draft ? &*draft : nullptr, cb);
      if (!gen.ok()) {
        errors[i] = gen.status();
      } else {
        out.gen = *std::move(gen);
        out.rounds = std::move(target.rounds);
        out.open_s = target.open_s;
      }
      if (progress) progress->Add(1);
    }
  };
  const double t0 = NowS();
  {
    std::vector<std::thread> threads;
    for (int s = 0; s < std::max(1, config.concurrency); ++s) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  const double wall = NowS() - t0;
  for (const absl::Status& e : errors) {
    if (!e.ok()) return absl::Status(e.code(), absl::StrCat(config.Label(), ": ", e.message()));
  }
  Result r;
  r.config = config;
  r.requests = n;
  r.wall_s = wall;
  r.loadavg = 0.5 * (load0 + LoadAvg1());
  std::vector<RoundRecord> all_rounds;
  std::vector<double> ttft, itl;
  double per_stream = 0;
  for (const RequestOutcome& o : outcomes) {
    const auto& g = o.gen;
    const auto& s = g.stats;
    r.tokens += g.tokens.size();
    per_stream += g.tokens.size() / std::max(1e-9, Sec(g.total_time));
    r.rounds += s.rounds;
    r.drafted += s.drafted;
    r.accepted += s.accepted;
    if (r.drafted_at.size() < s.drafted_at.size()) {
      r.drafted_at.resize(s.drafted_at.size());
      r.accepted_at.resize(s.drafted_at.size());
    }
    for (size_t i = 0; i < s.drafted_at.size(); ++i) {
      r.drafted_at[i] += s.drafted_at[i];
      r.accepted_at[i] += s.accepted_at[i];
    }
    r.draft_s += Sec(s.draft_time);
    r.verify_s += Sec(s.verify_time);
    r.rpc_s += Sec(s.rpc_time);
    r.total_s += Sec(g.total_time);
    r.open_s += o.open_s;
    r.fell_back += s.fell_back_to_target_only ? 1 : 0;
    r.pre_drafts += s.pre_drafts;
    r.pre_draft_hits += s.pre_draft_hits;
    r.tree_alternatives += s.tree_alternatives;
    r.tree_alternative_hits += s.tree_alternative_hits;
    r.draft_hidden_s += Sec(s.draft_time_hidden);
    for (const RoundRecord& rec : o.rounds) {
      r.draft_server_s += rec.draft_server_s;
      r.verify_server_s += rec.verify_server_s;
    }
    all_rounds.insert(all_rounds.end(), o.rounds.begin(), o.rounds.end());
    ttft.push_back(Sec(g.time_to_first_token) * 1e3);
    std::vector<double> l = InterTokenLatencies(o.arrivals, o.counts);
    for (double x : l) itl.push_back(x * 1e3);
  }
  r.tok_s = r.tokens / std::max(1e-9, wall);
  r.per_stream_tok_s = per_stream / std::max(1, n);
  r.acceptance = SummarizeAcceptance(all_rounds);
  r.ttft_ms_mean = ttft.empty() ? 0 : std::accumulate(ttft.begin(), ttft.end(), 0.0) / ttft.size();
  r.ttft_ms_p50 = Percentile(ttft, 50);
  r.itl_ms_p50 = Percentile(itl, 50);
  r.itl_ms_p99 = Percentile(itl, 99);
  r.mean_gamma = r.rounds ? double(r.drafted) / r.rounds : 0;
  return r;
}

// ---------------------------------------------------------------------------
// Direct model timings.

double MedianMs(std::vector<double> v) { return Percentile(std::move(v), 50) * 1e3; }

// One kind of forward to time: a model, an exit layer (0 = full) and the
// sequence it runs on.
struct ForwardCase {
  model::Model* model = nullptr;
  int64_t exit_layer = 0;
  model::SequenceId sequence = 0;
  std::vector<std::vector<double>> times;  // [k-1][rep]
};

// Times k-token forwards (k = 1..max_k) on a cached prefix for every case.
// Repetitions are interleaved across k and cases (rep-major), so load changes
// on a shared machine hit all of them alike and the ratios stay meaningful.
// Returns the medians in ms, [case][k-1].
absl::StatusOr<std::vector<std::vector<double>>> TimeForwards(
    std::vector<ForwardCase> cases, const std::vector<int64_t>& prefix, int max_k, int reps) {
  const int64_t length = static_cast<int64_t>(prefix.size());
  for (ForwardCase& c : cases) {
    c.model->Release(c.sequence);
    absl::StatusOr<at::Tensor> pre = c.model->ForwardOne(c.sequence, prefix, 0, false);
    if (!pre.ok()) return pre.status();
    c.times.assign(max_k, {});
  }
  for (int rep = 0; rep < reps + 3; ++rep) {
    for (int k = 1; k <= max_k; ++k) {
      std::vector<int64_t> tokens(prefix.end() - k, prefix.end());
      for (ForwardCase& c : cases) {
        const double t0 = NowS();
        absl::StatusOr<at::Tensor> logits = c.model->ForwardOne(c.sequence, tokens, c.exit_layer, true);
        const double t = NowS() - t0;
        if (!logits.ok()) return logits.status();
        if (absl::Status st = c.model->Truncate(c.sequence, length); !st.ok()) return st;
        if (rep >= 3) c.times[k - 1].push_back(t);
      }
    }
  }
  std::vector<std::vector<double>> out;
  for (ForwardCase& c : cases) {
    c.model->Release(c.sequence);
    std::vector<double> medians;
    for (auto& v : c.times) medians.push_back(MedianMs(v));
    out.push_back(medians);
  }
  return out;
}

absl::StatusOr<double> TimeSelect(const sampling::SamplingParams& params, int rows, int64_t vocab,
                                  const std::vector<int64_t>& history, int reps) {
  auto selector = sampling::TokenSelector::Create(params);
  if (!selector.ok()) return selector.status();
  at::Tensor logits = at::randn({rows, vocab}, at::kFloat);
  std::vector<sampling::TokenHistory> histories(rows);
  std::vector<std::unique_ptr<sampling::Rng>> rngs;
  std::vector<sampling::Rng*> rng_ptrs;
  for (int r = 0; r < rows; ++r) {
    histories[r].tokens = history;
    histories[r].prompt_length = static_cast<int64_t>(history.size());
    rngs.push_back(std::make_unique<sampling::Rng>(r + 1));
    rng_ptrs.push_back(rngs.back().get());
  }
  std::vector<double> times;
  for (int rep = 0; rep < reps + 3; ++rep) {
    const double t0 = NowS();
    auto out = (*selector)->Select(histories, logits, rng_ptrs, 0);
    const double t = NowS() - t0;
    if (!out.ok()) return out.status();
    if (rep >= 3) times.push_back(t);
  }
  return MedianMs(times);
}

absl::StatusOr<Micro> RunMicro(model::Model& target, model::Model& draft,
                               const std::vector<Prompt>& prompts, int max_gamma,
                               const BenchOptions& options) {
  Micro m;
  std::vector<int64_t> prefix;
  for (size_t i = 0; prefix.size() < static_cast<size_t>(options.micro_context); ++i) {
    const auto& t = prompts[i % prompts.size()].tokens;
    prefix.insert(prefix.end(), t.begin(), t.end());
  }
  prefix.resize(options.micro_context);
  m.context = options.micro_context;
  m.exit_layer = target.info().default_early_exit_layer;
  const int max_k = max_gamma + 1;
  const int reps = options.micro_reps;
  constexpr model::SequenceId kSeq = 0x7fff'0000'0000'0001ULL;
  std::vector<ForwardCase> cases(2);
  cases[0].model = &target;
  cases[0].sequence = kSeq;
  cases[1].model = &draft;
  cases[1].sequence = kSeq;
  if (m.exit_layer > 0) {
    ForwardCase e;
    e.model = &target;
    e.exit_layer = m.exit_layer;
    e.sequence = kSeq + 1;
    cases.push_back(e);
  }
  auto t = TimeForwards(std::move(cases), prefix, max_k, reps);
  if (!t.ok()) return t.status();
  m.target_ms = (*t)[0];
  m.draft_ms = (*t)[1];
  if (m.exit_layer > 0) m.exit_ms = (*t)[2];
  const int64_t vocab = target.info().vocab_size;
  sampling::SamplingParams greedy;
  greedy.temperature = 0;
  sampling::SamplingParams sampled;
  sampled.temperature = options.temperature;
  sampled.top_p = options.top_p;
  m.select_k = max_k;
  auto g1 = TimeSelect(greedy, 1, vocab, prefix, reps);
  auto gk = TimeSelect(greedy, max_k, vocab, prefix, reps);
  auto s1 = TimeSelect(sampled, 1, vocab, prefix, reps);
  auto sk = TimeSelect(sampled, max_k, vocab, prefix, reps);
  if (!g1.ok()) return g1.status();
  if (!gk.ok()) return gk.status();
  if (!s1.ok()) return s1.status();
  if (!sk.ok()) return sk.status();
  m.select_greedy_1_ms = *g1;
  m.select_greedy_k_ms = *gk;
  m.select_sampled_1_ms = *s1;
  m.select_sampled_k_ms = *sk;
  return m;
}

// ---------------------------------------------------------------------------

json ResultJson(const Result& r, const Micro& m) {
  json j;
  j["phase"] = r.config.phase;
  j["transport"] = r.config.transport;
  j["mode"] = r.config.mode;
  j["sampling"] = r.config.sampling;
  j["gamma"] = r.config.gamma;
  j["adaptive"] = r.config.adaptive;
  j["concurrency"] = r.config.concurrency;
  j["requests"] = r.requests;
  j["tokens"] = r.tokens;
  j["wall_s"] = r.wall_s;
  j["tok_s"] = r.tok_s;
  j["per_stream_tok_s"] = r.per_stream_tok_s;
  j["baseline_tok_s"] = r.baseline_tok_s;
  j["speedup"] = r.speedup;
  j["rounds"] = r.rounds;
  j["drafted"] = r.drafted;
  j["accepted"] = r.accepted;
  j["acceptance_rate"] = r.drafted ? double(r.accepted) / r.drafted : 0.0;
  j["mean_accepted_length"] = r.rounds ? 1.0 + double(r.accepted) / r.rounds : 0.0;
  j["tokens_per_round"] = r.rounds ? double(r.tokens) / r.rounds : 0.0;
  j["alpha"] = r.acceptance.alpha_mle;
  j["mean_gamma"] = r.mean_gamma;
  j["drafted_at"] = r.drafted_at;
  j["accepted_at"] = r.accepted_at;
  std::vector<double> rate_at;
  for (size_t i = 0; i < r.drafted_at.size(); ++i) {
    rate_at.push_back(r.drafted_at[i] ? double(r.accepted_at[i]) / r.drafted_at[i] : 0.0);
  }
  j["acceptance_at"] = rate_at;
  j["conditional_acceptance_at"] = r.acceptance.conditional_at;
  j["c_direct"] = r.c_direct;
  j["c_step_stats"] = r.c_step_stats;
  j["c_round_stats"] = r.c_round_stats;
  j["verify_ratio"] = r.verify_ratio;
  j["pred_leviathan"] = r.pred_leviathan;
  j["pred_refined"] = r.pred_refined;
  j["measured_over_leviathan"] = r.pred_leviathan > 0 ? r.speedup / r.pred_leviathan : 0.0;
  j["measured_over_refined"] = r.pred_refined > 0 ? r.speedup / r.pred_refined : 0.0;
  j["ttft_ms_mean"] = r.ttft_ms_mean;
  j["ttft_ms_p50"] = r.ttft_ms_p50;
  j["itl_ms_p50"] = r.itl_ms_p50;
  j["itl_ms_p99"] = r.itl_ms_p99;
  const double rounds = std::max<int64_t>(1, r.rounds);
  j["round_draft_ms"] = r.draft_s / rounds * 1e3;
  j["round_verify_ms"] = r.verify_s / rounds * 1e3;
  j["round_rpc_ms"] = r.rpc_s / rounds * 1e3;
  j["round_draft_server_ms"] = r.draft_server_s / rounds * 1e3;
  j["round_verify_server_ms"] = r.verify_server_s / rounds * 1e3;
  j["round_loop_ms"] = std::max(0.0, r.total_s - r.open_s - r.draft_s - r.verify_s) / rounds * 1e3;
  j["round_total_ms"] = std::max(0.0, r.total_s - r.open_s) / rounds * 1e3;
  j["round_verify_forward_est_ms"] =
      m.target_ms.empty() ? 0.0 : m.target_ms[0] * m.VerifyRatio(r.mean_gamma + 1);
  j["open_ms_mean"] = r.open_s / std::max(1, r.requests) * 1e3;
  j["fell_back"] = r.fell_back;
  j["pre_drafts"] = r.pre_drafts;
  j["pre_draft_hits"] = r.pre_draft_hits;
  j["pre_draft_hit_rate"] = r.pre_drafts ? double(r.pre_draft_hits) / r.pre_drafts : 0.0;
  j["round_draft_hidden_ms"] = r.draft_hidden_s / rounds * 1e3;
  // Token trees: alternatives per round, and the share of rounds whose
  // accepted path took one.
  j["tree_alternatives_per_round"] = double(r.tree_alternatives) / rounds;
  j["tree_alternative_hit_rounds"] = double(r.tree_alternative_hits) / rounds;
  j["loadavg1"] = r.loadavg;
  return j;
}

const std::vector<std::string> kCsvColumns = {
    "phase", "transport", "mode", "sampling", "gamma", "adaptive", "concurrency", "requests",
    "tokens", "wall_s", "tok_s", "per_stream_tok_s", "baseline_tok_s", "speedup",
    "acceptance_rate", "mean_accepted_length", "alpha", "mean_gamma", "c_direct",
    "c_step_stats", "c_round_stats", "verify_ratio", "pred_leviathan", "pred_refined",
    "measured_over_leviathan", "measured_over_refined", "ttft_ms_mean", "ttft_ms_p50",
    "itl_ms_p50", "itl_ms_p99", "round_draft_ms", "round_verify_ms", "round_rpc_ms",
    "round_draft_server_ms", "round_verify_server_ms", "round_verify_forward_est_ms",
    "round_loop_ms", "round_total_ms", "open_ms_mean", "fell_back", "pre_drafts",
    "pre_draft_hits", "pre_draft_hit_rate", "round_draft_hidden_ms",
    "tree_alternatives_per_round", "tree_alternative_hit_rounds", "loadavg1"};

std::string CsvCell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return absl::StrFormat("%.6g", v.get<double>());
  return "";
}

}  // namespace

absl::Status RunSpeedupBenchmark(const BenchOptions& options) {
  if (options.threads > 0) at::set_num_threads(options.threads);
  if (options.gammas.empty()) return absl::InvalidArgumentError("no draft lengths");
  const int max_gamma = *std::max_element(options.gammas.begin(), options.gammas.end());
  const bool want_local = std::count(options.transports.begin(), options.transports.end(), "local");
  const bool want_grpc = std::count(options.transports.begin(), options.transports.end(), "grpc");

  // Prompts.
  auto tok = tokenizer::LoadTokenizer(options.target_dir);
  if (!tok.ok()) return tok.status();
  std::vector<Prompt> prompts;
  {
    std::ifstream in(options.prompts_path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", options.prompts_path));
    std::string line;
    int index = 0;
    while (std::getline(in, line) && static_cast<int>(prompts.size()) < options.num_prompts) {
      if (line.empty()) continue;
      if (index++ < options.prompt_offset) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("prompt")) {
        return absl::InvalidArgumentError(absl::StrCat(options.prompts_path, ": bad line ", index));
      }
      auto ids = (*tok)->Encode(j["prompt"].get<std::string>());
      if (!ids.ok()) return ids.status();
      Prompt p;
      p.id = j.value("id", index - 1);
      p.tokens.assign(ids->begin(), ids->end());
      prompts.push_back(std::move(p));
    }
  }
  if (prompts.empty()) return absl::InvalidArgumentError("no prompts");

  // Models: one instance per transport so the two never share a KV cache.
  services::ModelServerOptions topt;
  topt.model_path = options.target_dir;
  topt.dtype = options.dtype;
  topt.max_sessions = 64;
  topt.session_ttl = absl::Minutes(10);
  topt.max_draft_length = std::max(16, max_gamma);
  topt.inline_batches = options.inline_batches;
  services::ModelServerOptions dopt = topt;
  dopt.model_path = options.draft_dir;
  std::unique_ptr<model::Model> local_target, local_draft, grpc_target, grpc_draft;
  for (auto* pair : {&local_target, &grpc_target}) {
    auto m = services::LoadModel(topt);
    if (!m.ok()) return m.status();
    *pair = *std::move(m);
  }
  for (auto* pair : {&local_draft, &grpc_draft}) {
    auto m = services::LoadModel(dopt);
    if (!m.ok()) return m.status();
    *pair = *std::move(m);
  }

  // Direct timings (before any serving traffic).
  std::cerr << "timing single forwards (" << options.micro_reps << " reps each)...\n";
  auto micro_or = RunMicro(*local_target, *local_draft, prompts, max_gamma, options);
  if (!micro_or.ok()) return micro_or.status();
  const Micro micro = *micro_or;

  decoding::TargetEngine local_target_engine(*local_target, 64);
  decoding::DraftEngine local_draft_engine(*local_draft, 64);
  decoding::BatcherOptions local_batching;
  local_batching.run_inline_when_idle = options.inline_batches;
  auto local_target_backend =
      std::make_unique<decoding::LocalTargetBackend>(local_target_engine, local_batching);
  auto local_draft_backend =
      std::make_unique<decoding::LocalDraftBackend>(local_draft_engine, local_batching);

  auto target_service = std::make_unique<services::TargetServiceImpl>(topt, *grpc_target);
  auto draft_service = std::make_unique<services::DraftServiceImpl>(dopt, *grpc_draft);
  std::unique_ptr<services::RunningServer> target_server, draft_server;
  std::unique_ptr<services::RemoteTargetBackend> remote_target;
  std::unique_ptr<services::RemoteDraftBackend> remote_draft;
  if (want_grpc) {
    auto ts = services::RunningServer::Start({"127.0.0.1:0", "", "target"}, {target_service.get()});
    if (!ts.ok()) return ts.status();
    auto ds = services::RunningServer::Start({"127.0.0.1:0", "", "draft"}, {draft_service.get()});
    if (!ds.ok()) return ds.status();
    target_server = *std::move(ts);
    draft_server = *std::move(ds);
    remote_target = std::make_unique<services::RemoteTargetBackend>(
        *services::MakeChannel(target_server->address()));
    remote_draft = std::make_unique<services::RemoteDraftBackend>(
        *services::MakeChannel(draft_server->address()));
    if (auto s = remote_target->Connect(); !s.ok()) return s;
    if (auto s = remote_draft->Connect(); !s.ok()) return s;
  }
  std::map<std::string, Transport> transports;
  if (want_local) transports["local"] = {local_target_backend.get(), local_draft_backend.get()};
  if (want_grpc) transports["grpc"] = {remote_target.get(), remote_draft.get()};

  // The plan.
  std::vector<Config> sweep;
  for (const std::string& tname : options.transports) {
    if (!transports.count(tname)) continue;
    for (const std::string& s : options.samplings) {
      // Target-only before and after every mode's block: each speculative
      // configuration is compared with the mean of the two target-only runs
      // that bracket it in time, so slow drift (a shared machine) cancels.
      sweep.push_back({"sweep", tname, "target", s, 0, false, 1});
      for (const std::string& mode : options.modes) {
        for (int g : options.gammas) sweep.push_back({"sweep", tname, mode, s, g, false, 1});
        if (options.adaptive) sweep.push_back({"sweep", tname, mode, s, 0, true, 1});
        sweep.push_back({"baseline", tname, "target", s, 0, false, 1});
      }
    }
  }
  const int n_prompts = static_cast<int>(prompts.size());
  int64_t total_requests = 0;
  for (const Config& c : sweep) total_requests += c.Requests(n_prompts);
  std::vector<int> levels = options.concurrency;
  const bool run_concurrency = !(levels.empty() || (levels.size() == 1 && levels[0] == 1));
  std::vector<std::string> conc_modes = {"target"};
  for (const auto& m : options.modes) conc_modes.push_back(m);
  if (run_concurrency) {
    for (size_t t = 0; t < transports.size(); ++t) {
      for (int level : levels) {
        total_requests += (conc_modes.size() + 1) *
                          Config{"", "", "", "", 0, false, level}.Requests(n_prompts);
      }
    }
  }
  const int warm_tokens = std::min(16, options.max_new_tokens);
  total_requests += transports.size() * (1 + options.modes.size());

  Progress progress(total_requests, options.progress);
  std::vector<Result> results;

  // Warm-up (oneDNN primitives for every shape, gRPC channels); not recorded.
  for (const auto& [tname, transport] : transports) {
    std::vector<Prompt> one = {prompts[0]};
    for (const std::string& mode : conc_modes) {
      Config warm{"warmup", tname, mode, "greedy", std::min(4, max_gamma), false, 1};
      auto r = RunConfig(warm, transport, one, options, max_gamma, warm_tokens, &progress);
      if (!r.ok()) return r.status();
    }
  }

  for (const Config& c : sweep) {
    auto r = RunConfig(c, transports[c.transport], prompts, options, max_gamma,
                       options.max_new_tokens, &progress);
    if (!r.ok()) return r.status();
    results.push_back(*std::move(r));
  }

  // Best fixed γ per mode for the concurrency runs (greedy; gRPC if measured).
  std::map<std::string, int> best_gamma;
  {
    const std::string ref = transports.count("grpc") ? "grpc" : transports.begin()->first;
    std::map<std::string, double> best_tok_s;
    for (const Result& r : results) {
      if (r.config.phase != "sweep" || r.config.transport != ref || r.config.mode == "target" ||
          r.config.adaptive || r.config.sampling != "greedy") {
        continue;
      }
      if (r.tok_s > best_tok_s[r.config.mode]) {
        best_tok_s[r.config.mode] = r.tok_s;
        best_gamma[r.config.mode] = r.config.gamma;
      }
    }
    for (const auto& m : options.modes) {
      if (options.concurrency_gamma > 0) best_gamma[m] = options.concurrency_gamma;
      if (!best_gamma.count(m)) best_gamma[m] = std::min(4, max_gamma);
    }
  }
  if (run_concurrency) {
    for (const std::string& tname : options.transports) {
      if (!transports.count(tname)) continue;
      for (int level : levels) {
        std::vector<std::string> plan = conc_modes;
        plan.push_back("target");  // Bracket the modes with target-only runs.
        for (const std::string& mode : plan) {
          // Each mode at its best fixed γ and, with --concurrency_adaptive,
          // adaptive (which should back off when the target is saturated).
          for (bool adaptive : {false, true}) {
            if (adaptive && (mode == "target" || !options.concurrency_adaptive)) continue;
            Config c{"concurrency", tname, mode, "greedy",
                     mode == "target" ? 0 : (adaptive ? 0 : best_gamma[mode]), adaptive, level};
            auto r = RunConfig(c, transports[tname], prompts, options, max_gamma,
                               options.max_new_tokens, &progress);
            if (!r.ok()) return r.status();
            results.push_back(*std::move(r));
          }
        }
      }
    }
  }
  progress.Finish();

  // Derived metrics: baselines, c, predictions. Results are in run order; a
  // speculative configuration's baseline is the mean of the nearest target-only
  // runs before and after it with the same transport, sampling, concurrency
  // and phase family; a target-only run is compared with its group's mean.
  const auto family = [](const Config& c) {
    return absl::StrCat(c.phase == "concurrency" ? "conc" : "sweep", "/", c.transport, "/",
                        c.sampling, "/", c.concurrency);
  };
  struct Baseline {
    double tok_s = 0;
    double verify_per_round_s = 0;
  };
  std::vector<Baseline> baseline_of(results.size());
  std::map<std::string, std::vector<double>> target_runs;
  for (const Result& r : results) {
    if (r.config.mode == "target") target_runs[family(r.config)].push_back(r.tok_s);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string f = family(results[i].config);
    if (results[i].config.mode == "target") {
      const auto& v = target_runs[f];
      baseline_of[i].tok_s = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
      baseline_of[i].verify_per_round_s =
          results[i].rounds ? results[i].verify_s / results[i].rounds : 0;
      continue;
    }
    std::vector<const Result*> near;
    for (int j = static_cast<int>(i) - 1; j >= 0; --j) {
      if (results[j].config.mode == "target" && family(results[j].config) == f) {
        near.push_back(&results[j]);
        break;
      }
    }
    for (size_t j = i + 1; j < results.size(); ++j) {
      if (results[j].config.mode == "target" && family(results[j].config) == f) {
        near.push_back(&results[j]);
        break;
      }
    }
    for (const Result* b : near) {
      baseline_of[i].tok_s += b->tok_s / near.size();
      baseline_of[i].verify_per_round_s +=
          (b->rounds ? b->verify_s / b->rounds : 0) / near.size();
    }
  }
  for (size_t i = 0; i < results.size(); ++i) {
    Result& r = results[i];
    const Baseline& b = baseline_of[i];
    r.baseline_tok_s = b.tok_s;
    r.speedup = r.baseline_tok_s > 0 ? r.tok_s / r.baseline_tok_s : 0;
    if (r.config.mode == "target") {
      r.pred_leviathan = r.pred_refined = 1.0;
      continue;
    }
    const double draft_per_token = r.drafted ? r.draft_s / r.drafted : 0;
    const double verify_per_round = r.rounds ? r.verify_s / r.rounds : 0;
    r.c_round_stats = verify_per_round > 0 ? draft_per_token / verify_per_round : 0;
    r.c_step_stats = b.verify_per_round_s > 0 ? draft_per_token / b.verify_per_round_s : 0;
    if (ModeOf(r.config.mode) == decoding::SpeculationMode::kDraftModel) {
      r.c_direct = micro.draft_ms[0] / micro.target_ms[0];
    } else if (r.config.mode == "self") {
      r.c_direct = micro.exit_ms.empty() ? 0 : micro.exit_ms[0] / micro.target_ms[0];
    } else {
      r.c_direct = r.c_step_stats;  // Prompt lookup: no model; its CPU time per token.
    }
    r.verify_ratio = micro.VerifyRatio(r.mean_gamma + 1);
    const double alpha = r.acceptance.alpha_mle;
    // Pipelined drafting: a round whose draft was pre-drafted (hit rate h)
    // costs only its verify, so the drafting cost per round scales by 1 − h:
    // S = E(α, γ) / ((1 − h) γ c + r) (r = 1 for Leviathan).
    const double exposed =
        r.pre_drafts > 0 ? 1.0 - double(r.pre_draft_hits) / r.pre_drafts : 1.0;
    r.pred_leviathan = LeviathanSpeedup(alpha, r.mean_gamma, r.c_direct * exposed);
    r.pred_refined = RefinedSpeedup(alpha, r.mean_gamma, r.c_direct * exposed, r.verify_ratio);
  }

  // Output.
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", options.out_dir, ": ", ec.message()));
  json out;
  std::string cpu = ReadFirstLine("/proc/cpuinfo", "model name");
  if (auto p = cpu.find(':'); p != std::string::npos) cpu = cpu.substr(p + 2);
  const std::string flags = ReadFirstLine("/proc/cpuinfo", "flags");
  out["machine"] = {
      {"cpu", cpu},
      {"logical_cpus", std::thread::hardware_concurrency()},
      {"avx512_bf16", flags.find("avx512_bf16") != std::string::npos},
      {"amx_bf16", flags.find("amx_bf16") != std::string::npos},
      {"torch_threads", at::get_num_threads()},
      {"mem_total", ReadFirstLine("/proc/meminfo", "MemTotal")},
      {"loadavg_end", ReadFirstLine("/proc/loadavg")},
  };
  out["options"] = {
      {"target", options.target_dir}, {"draft", options.draft_dir},
      {"prompts", options.prompts_path}, {"num_prompts", n_prompts},
      {"prompt_tokens_mean",
       std::accumulate(prompts.begin(), prompts.end(), 0.0,
                       [](double a, const Prompt& p) { return a + p.tokens.size(); }) /
           n_prompts},
      {"max_new_tokens", options.max_new_tokens}, {"dtype", options.dtype},
      {"gammas", options.gammas}, {"adaptive", options.adaptive},
      {"temperature", options.temperature}, {"top_p", options.top_p}, {"seed", options.seed},
      {"concurrency", options.concurrency}, {"eos", "ignored (fixed-length generations)"},
  };
  json bg;
  for (const auto& [m, g] : best_gamma) bg[m] = g;
  out["concurrency_gamma"] = bg;
  json bl;
  for (const auto& [k, v] : target_runs) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    bl[k] = {{"target_only_tok_s", v},
             {"mean_tok_s", mean},
             {"cv", v.size() > 1 ? std::sqrt(var / (v.size() - 1)) / mean : 0.0}};
  }
  out["target_only_runs"] = bl;
  std::vector<double> ratios;
  for (size_t k = 1; k <= micro.target_ms.size(); ++k) ratios.push_back(micro.VerifyRatio(k));
  out["micro"] = {
      {"context", micro.context},
      {"exit_layer", micro.exit_layer},
      {"target_forward_ms", micro.target_ms},
      {"exit_forward_ms", micro.exit_ms},
      {"draft_forward_ms", micro.draft_ms},
      {"verify_ratio", ratios},
      {"c_draft", micro.draft_ms[0] / micro.target_ms[0]},
      {"c_self", micro.exit_ms.empty() ? 0.0 : micro.exit_ms[0] / micro.target_ms[0]},
      {"select_rows", micro.select_k},
      {"select_greedy_1_ms", micro.select_greedy_1_ms},
      {"select_greedy_k_ms", micro.select_greedy_k_ms},
      {"select_sampled_1_ms", micro.select_sampled_1_ms},
      {"select_sampled_k_ms", micro.select_sampled_k_ms},
  };
  json rows = json::array();
  for (const Result& r : results) rows.push_back(ResultJson(r, micro));
  out["results"] = rows;
  {
    std::ofstream f(options.out_dir + "/results.json");
    f << out.dump(1) << "\n";
  }
  {
    std::ofstream f(options.out_dir + "/results.csv");
    f << absl::StrJoin(kCsvColumns, ",") << "\n";
    for (const json& row : rows) {
      std::vector<std::string> cells;
      for (const auto& col : kCsvColumns) cells.push_back(CsvCell(row[col]));
      f << absl::StrJoin(cells, ",") << "\n";
    }
  }
  {
    std::ofstream f(options.out_dir + "/per_position.csv");
    f << "phase,transport,mode,sampling,gamma,adaptive,concurrency,position,drafted_at,accepted_at,"
         "acceptance_at,conditional_acceptance_at,alpha_pow\n";
    for (const Result& r : results) {
      for (size_t i = 0; i < r.drafted_at.size(); ++i) {
        const double cond =
            i < r.acceptance.conditional_at.size() ? r.acceptance.conditional_at[i] : 0.0;
        f << absl::StrFormat("%s,%s,%s,%s,%d,%d,%d,%d,%d,%d,%.6g,%.6g,%.6g\n", r.config.phase,
                             r.config.transport, r.config.mode, r.config.sampling, r.config.gamma,
                             r.config.adaptive ? 1 : 0, r.config.concurrency, int(i + 1),
                             r.drafted_at[i], r.accepted_at[i],
                             r.drafted_at[i] ? double(r.accepted_at[i]) / r.drafted_at[i] : 0.0,
                             cond, std::pow(r.acceptance.alpha_mle, double(i + 1)));
      }
    }
  }

  // A short summary on stdout.
  std::cout << absl::StrFormat(
      "\ntarget 1-token forward %.2f ms, draft %.3f ms (c=%.3f), early exit L%d %.2f ms (c=%.3f); "
      "verify cost ratio k=%d: %.2f\n",
      micro.target_ms[0], micro.draft_ms[0], micro.draft_ms[0] / micro.target_ms[0],
      micro.exit_layer, micro.exit_ms.empty() ? 0.0 : micro.exit_ms[0],
      micro.exit_ms.empty() ? 0.0 : micro.exit_ms[0] / micro.target_ms[0], max_gamma + 1,
      micro.VerifyRatio(max_gamma + 1));
  std::cout << absl::StrFormat("%-12s %-6s %-6s %-8s %4s %4s %8s %7s %6s %6s %6s %6s\n", "phase",
                               "trans", "mode", "sampling", "g", "conc", "tok/s", "speedup",
                               "alpha", "pred", "refine", "accLen");
  for (const Result& r : results) {
    std::cout << absl::StrFormat(
        "%-12s %-6s %-6s %-8s %4s %4d %8.1f %7.2f %6.3f %6.2f %6.2f %6.2f\n", r.config.phase,
        r.config.transport, r.config.mode, r.config.sampling,
        r.config.mode == "target" ? "-" : (r.config.adaptive ? "ad" : std::to_string(r.config.gamma)),
        r.config.concurrency, r.tok_s, r.speedup, r.acceptance.alpha_mle, r.pred_leviathan,
        r.pred_refined, r.rounds ? 1.0 + double(r.accepted) / r.rounds : 0.0);
  }
  std::cout << "wrote " << options.out_dir << "/results.{json,csv}, per_position.csv\n";

  // Orderly shutdown: clients, servers, then services; local backends before engines.
  remote_target.reset();
  remote_draft.reset();
  if (target_server) target_server->Shutdown();
  if (draft_server) draft_server->Shutdown();
  local_target_backend.reset();
  local_draft_backend.reset();
  return absl::OkStatus();
}

}  // namespace tandem::bench
