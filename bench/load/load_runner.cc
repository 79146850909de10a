#include "bench/load/load_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/tandem_client.h"

namespace tandem::bench::load {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

absl::StatusOr<v1::GenerateRequest> MakeRequest(const LoadOptions& o, int64_t i) {
  client::GenerateOptions g;
  g.prompts = {o.prompts[i % o.prompts.size()]};
  g.temperature = static_cast<float>(o.temperature);
  if (o.temperature > 0) g.seed = o.seed + static_cast<uint64_t>(i);
  g.max_new_tokens = static_cast<uint32_t>(o.max_new_tokens);
  g.speculation = o.speculation;
  if (o.draft_length > 0) g.draft_length = static_cast<uint32_t>(o.draft_length);
  g.speculation_stats = true;
  g.request_id = absl::StrCat("load-", i);
  absl::StatusOr<v1::GenerateRequest> r = client::BuildRequest(g);
  if (r.ok() && o.ignore_eos) r->mutable_config()->mutable_stopping()->set_ignore_eos(true);
  return r;
}

RequestRecord RunOne(client::TandemClient& client, const v1::GenerateRequest& request,
                     const LoadOptions& o, Clock::time_point t0) {
  RequestRecord rec;
  const bool wants_speculation = !o.speculation.empty() && o.speculation != "off";
  rec.start_s = SecondsSince(t0);
  absl::Status status = client.GenerateStream(
      request,
      [&](const v1::GenerateStreamResponse& m) {
        if (m.has_chunk() && m.chunk().tokens_size() > 0) {
          const double now = SecondsSince(t0);
          if (rec.first_token_s < 0) rec.first_token_s = now;
          rec.last_token_s = now;
          rec.tokens += m.chunk().tokens_size();
        }
        if (m.has_sequence_end() && m.sequence_end().stats().has_speculation()) {
          const v1::SpeculationStats& spec = m.sequence_end().stats().speculation();
          rec.drafted += static_cast<int64_t>(spec.drafted_tokens());
          rec.accepted += static_cast<int64_t>(spec.accepted_tokens());
          // Rounds that drafted at least one token = drafts at position 1.
          int64_t drafting_rounds = 0;
          for (const v1::PositionAcceptance& p : spec.per_position_acceptance()) {
            if (p.position() == 1) drafting_rounds = static_cast<int64_t>(p.drafted());
          }
          rec.rounds += static_cast<int64_t>(spec.target_passes());
          rec.plain_rounds += static_cast<int64_t>(spec.target_passes()) - drafting_rounds;
          rec.fell_back |= wants_speculation && spec.mode() == v1::SPECULATION_MODE_OFF;
        }
        return true;
      },
      absl::Seconds(o.request_timeout_s));
  rec.end_s = SecondsSince(t0);
  rec.code = status.code();
  if (!status.ok()) rec.error = std::string(status.message());
  return rec;
}

// Samples the processes' VmRSS until Stop(), keeping the largest value.
class MemorySampler {
 public:
  MemorySampler(std::vector<ProcessMemory>* memory, double interval_s)
      : memory_(memory), interval_(interval_s) {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      for (ProcessMemory& m : *memory_) {
        ProcMemory now;
        if (ReadProcMemory(m.pid, &now).ok()) m.peak_rss_kb = std::max(m.peak_rss_kb, now.rss_kb);
      }
      if (cv_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return stop_; })) {
        return;
      }
    }
  }

  std::vector<ProcessMemory>* memory_;
  double interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

absl::Status ValidateOptions(const LoadOptions& o) {
  if (o.server.empty()) return absl::InvalidArgumentError("no server address");
  if (o.prompts.empty()) return absl::InvalidArgumentError("no prompts");
  if (o.streams < 1 || o.max_requests < 1 || o.time_limit_s <= 0 || o.max_new_tokens < 1 ||
      o.request_timeout_s <= 0) {
    return absl::InvalidArgumentError(
        "streams, max_requests, time_limit_s, max_new_tokens and request_timeout_s must be "
        "positive");
  }
  if (o.ramp_s < 0 || o.ramp_s >= o.time_limit_s) {
    return absl::InvalidArgumentError("ramp_s must be in [0, time_limit_s)");
  }
  return absl::OkStatus();
}

absl::Status WarmUp(const LoadOptions& o) {
  client::TandemClient client(o.server);
  for (int i = 0; i < o.warmup_requests; ++i) {
    absl::StatusOr<v1::GenerateRequest> request = MakeRequest(o, i);
    if (!request.ok()) return request.status();
    RequestRecord rec = RunOne(client, *request, o, Clock::now());
    if (rec.code != absl::StatusCode::kOk) {
      return absl::Status(rec.code, absl::StrCat("warm-up request failed: ", rec.error));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> LoadPrompts(const std::string& path, int offset,
                                                     int count) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::string> prompts;
  std::string line;
  for (int n = 0; std::getline(in, line); ++n) {
    if (n < offset || line.empty()) continue;
    if (count > 0 && static_cast<int>(prompts.size()) >= count) break;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("prompt") || !j["prompt"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", n + 1, ": not a JSON object with a string \"prompt\""));
    }
    prompts.push_back(j["prompt"].get<std::string>());
  }
  if (prompts.empty()) return absl::InvalidArgumentError(absl::StrCat("no prompts in ", path));
  return prompts;
}

namespace {

struct StreamsResult {
  std::vector<RequestRecord> records;
  bool hit_time_limit = false;
  absl::Status status;  // Not OK only when a request could not be built.
};

StreamsResult DriveStreams(const LoadOptions& o) {
  std::vector<std::unique_ptr<client::TandemClient>> clients;
  for (int k = 0; k < o.streams; ++k) {
    clients.push_back(std::make_unique<client::TandemClient>(o.server));
  }
  StreamsResult result;
  std::atomic<int64_t> next{0};
  std::atomic<bool> hit_time_limit{false};
  std::mutex mu;
  const Clock::time_point t0 = Clock::now();
  auto stream = [&](int k) {
    if (o.ramp_s > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(o.ramp_s * k / o.streams));
    }
    while (true) {
      const int64_t i = next.fetch_add(1);
      if (i >= o.max_requests) return;
      if (SecondsSince(t0) >= o.time_limit_s) {
        hit_time_limit = true;
        return;
      }
      absl::StatusOr<v1::GenerateRequest> request = MakeRequest(o, i);
      if (!request.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        result.status = request.status();
        return;
      }
      RequestRecord rec = RunOne(*clients[k], *request, o, t0);
      const bool failed = rec.code != absl::StatusCode::kOk;
      {
        std::lock_guard<std::mutex> lock(mu);
        result.records.push_back(std::move(rec));
      }
      if (failed && o.retry_backoff_s > 0) {
        std::this_thread::sleep_for(std::chrono::duration<double>(o.retry_backoff_s));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int k = 0; k < o.streams; ++k) threads.emplace_back(stream, k);
  for (auto& t : threads) t.join();
  result.hit_time_limit = hit_time_limit;
  return result;
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& o) {
  if (absl::Status s = ValidateOptions(o); !s.ok()) return s;
  LoadReport report;
  report.label = o.label;
  report.streams = o.streams;
  report.max_requests = o.max_requests;
  report.time_limit_s = o.time_limit_s;
  report.ramp_s = o.ramp_s;
  report.max_new_tokens = o.max_new_tokens;
  report.speculation = o.speculation;
  report.temperature = o.temperature;
  if (absl::Status s = WarmUp(o); !s.ok()) return s;
  for (const auto& [name, pid] : o.processes) {
    ProcessMemory m{name, pid};
    if (absl::Status s = ReadProcMemory(pid, &m.before); !s.ok()) return s;
    report.memory.push_back(m);
  }

  MemorySampler sampler(&report.memory, o.memory_sample_interval_s);
  StreamsResult run = DriveStreams(o);
  sampler.Stop();
  if (!run.status.ok()) return run.status;

  for (const RequestRecord& r : run.records) report.wall_s = std::max(report.wall_s, r.end_s);
  report.stopped_by = run.hit_time_limit ? "time" : "count";
  report.summary = SummarizeRequests(run.records, report.wall_s, o.ramp_s);
  for (ProcessMemory& m : report.memory) {
    // A server that died under load is a result, not a tool failure.
    m.exited = !ReadProcMemory(m.pid, &m.after).ok();
    m.peak_rss_kb = std::max(m.peak_rss_kb, m.after.rss_kb);
  }
  return report;
}

}  // namespace tandem::bench::load
