// Speculative beam search vs plain beam search (issue 15 §2): the same
// prompts, beams and lengths through decoding::RunBackendBeamSearch over
// loopback gRPC servers (or in-process engines), plain and with the draft
// model proposing beam trees for each draft_steps value, interleaved per
// repetition (plain, spec d1, spec d2, ..., plain, spec d1, ...) so slow drift
// on a shared machine hits every configuration alike. Prints and writes
// (--out/beam_results.csv) tokens/s (positions of the returned sequence per
// second), target passes, steps per pass, tree tokens per pass, and whether
// every speculative result equals the plain one.

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/speedup/metrics.h"
#include "decoding/backend_beam_search.h"
#include "decoding/engines.h"
#include "decoding/local_backends.h"
#include "services/common/model_server_options.h"
#include "services/common/server_runner.h"
#include "services/draft/draft_service.h"
#include "services/orchestrator/remote_backends.h"
#include "services/target/target_service.h"
#include "tokenizer/load_tokenizer.h"

ABSL_FLAG(std::string, target, "assets/target", "Target model directory");
ABSL_FLAG(std::string, draft, "assets/draft", "Draft model directory");
ABSL_FLAG(std::string, prompts, "assets/bench_prompts.jsonl", "Held-out prompts (JSON lines, field \"prompt\")");
ABSL_FLAG(std::string, out, "/tmp/tandem_beam", "Output directory (beam_results.csv)");
ABSL_FLAG(std::string, dtype, "bfloat16", "Weights dtype for both models: bfloat16 | float32");
ABSL_FLAG(int, num_prompts, 8, "Held-out prompts");
ABSL_FLAG(int, max_new_tokens, 64, "Beam-search steps per prompt (no EOS: every search runs to the end)");
ABSL_FLAG(int, num_beams, 4, "Beams");
ABSL_FLAG(int, draft_beams, 0, "Beams the draft keeps per step; 0 = 2 x num_beams");
ABSL_FLAG(std::string, draft_steps, "1,2,3,4", "Draft beam steps per target pass to compare with plain");
ABSL_FLAG(std::string, adaptive, "4", "Also run adaptive depth (BeamDraftPolicy) with these maxima; empty = none");
ABSL_FLAG(int, reps, 3, "Interleaved repetitions");
ABSL_FLAG(std::string, transport, "grpc", "grpc (loopback servers) or local (in-process engines)");
ABSL_FLAG(int, threads, 1, "LibTorch intra-op threads per server; 0 = default");

namespace tandem::bench {
namespace {

double LoadAvg1() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 50); }

struct Totals {
  std::vector<double> tok_s;  // One per repetition: all prompts' tokens / their time.
  int64_t steps = 0, passes = 0, nodes = 0;
  double draft_s = 0, score_s = 0, fork_s = 0, total_s = 0;
  int differ = 0;  // Prompts whose result differs from plain.
};

int Run() {
  if (absl::GetFlag(FLAGS_threads) > 0) at::set_num_threads(absl::GetFlag(FLAGS_threads));
  const std::string target_dir = absl::GetFlag(FLAGS_target);
  auto tok = tokenizer::LoadTokenizer(target_dir);
  if (!tok.ok()) {
    std::cerr << tok.status() << "\n";
    return 1;
  }
  std::vector<std::vector<int64_t>> prompts;
  {
    std::ifstream in(absl::GetFlag(FLAGS_prompts));
    std::string line;
    while (std::getline(in, line) &&
           static_cast<int>(prompts.size()) < absl::GetFlag(FLAGS_num_prompts)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("prompt")) continue;
      auto ids = (*tok)->Encode(j["prompt"].get<std::string>());
      if (!ids.ok()) continue;
      prompts.emplace_back(ids->begin(), ids->end());
    }
  }
  if (prompts.empty()) {
    std::cerr << "no prompts in " << absl::GetFlag(FLAGS_prompts) << "\n";
    return 1;
  }
  std::vector<int> draft_steps;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_draft_steps), ',')) {
    int v = 0;
    if (!absl::SimpleAtoi(s, &v) || v < 1 || v > decoding::kMaxBeamDraftSteps) {
      std::cerr << "--draft_steps: each must be in [1, " << decoding::kMaxBeamDraftSteps << "]\n";
      return 1;
    }
    draft_steps.push_back(v);
  }

  services::ModelServerOptions topt;
  topt.model_path = target_dir;
  topt.dtype = absl::GetFlag(FLAGS_dtype);
  topt.max_sessions = 256;
  topt.session_ttl = absl::Minutes(10);
  services::ModelServerOptions dopt = topt;
  dopt.model_path = absl::GetFlag(FLAGS_draft);
  auto target_model = services::LoadModel(topt);
  auto draft_model = services::LoadModel(dopt);
  if (!target_model.ok() || !draft_model.ok()) {
    std::cerr << target_model.status() << " " << draft_model.status() << "\n";
    return 1;
  }
  std::unique_ptr<decoding::TargetEngine> target_engine;
  std::unique_ptr<decoding::DraftEngine> draft_engine;
  std::unique_ptr<services::TargetServiceImpl> target_service;
  std::unique_ptr<services::DraftServiceImpl> draft_service;
  std::unique_ptr<services::RunningServer> target_server, draft_server;
  std::unique_ptr<decoding::TargetBackend> target;
  std::unique_ptr<decoding::DraftBackend> draft;
  const bool grpc = absl::GetFlag(FLAGS_transport) == "grpc";
  if (grpc) {
    target_service = std::make_unique<services::TargetServiceImpl>(topt, **target_model);
    draft_service = std::make_unique<services::DraftServiceImpl>(dopt, **draft_model);
    auto ts = services::RunningServer::Start({"127.0.0.1:0", "", "target"}, {target_service.get()});
    auto ds = services::RunningServer::Start({"127.0.0.1:0", "", "draft"}, {draft_service.get()});
    if (!ts.ok() || !ds.ok()) {
      std::cerr << "cannot start the servers\n";
      return 1;
    }
    target_server = *std::move(ts);
    draft_server = *std::move(ds);
    auto rt = std::make_unique<services::RemoteTargetBackend>(
        *services::MakeChannel(target_server->address()));
    auto rd = std::make_unique<services::RemoteDraftBackend>(
        *services::MakeChannel(draft_server->address()));
    if (!rt->Connect().ok() || !rd->Connect().ok()) {
      std::cerr << "cannot connect to the servers\n";
      return 1;
    }
    target = std::move(rt);
    draft = std::move(rd);
  } else {
    target_engine = std::make_unique<decoding::TargetEngine>(**target_model, 256);
    draft_engine = std::make_unique<decoding::DraftEngine>(**draft_model, 256);
    target = std::make_unique<decoding::LocalTargetBackend>(*target_engine);
    draft = std::make_unique<decoding::LocalDraftBackend>(*draft_engine);
  }

  auto request = [&](const std::vector<int64_t>& prompt, int steps) {
    decoding::BackendBeamSearchRequest r;
    r.prompt = prompt;
    r.options.num_beams = absl::GetFlag(FLAGS_num_beams);
    r.options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
    r.options.early_stopping = sampling::EarlyStopping::kHeuristic;
    // No EOS ids: every search runs max_new_tokens steps, so plain and
    // speculative searches do the same work.
    // steps > 0: fixed depth; steps < 0: adaptive with at most -steps.
    if (steps != 0) {
      r.draft = draft.get();
      r.draft_steps = std::abs(steps);
      r.adaptive_draft_steps = steps < 0;
      r.draft_beams = absl::GetFlag(FLAGS_draft_beams);
    }
    return r;
  };
  std::vector<int> configs = {0};
  configs.insert(configs.end(), draft_steps.begin(), draft_steps.end());
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_adaptive), ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(s, &v) || v < 1 || v > decoding::kMaxBeamDraftSteps) {
      std::cerr << "--adaptive: each must be in [1, " << decoding::kMaxBeamDraftSteps << "]\n";
      return 1;
    }
    configs.push_back(-v);
  }
  auto label = [](int c) {
    return c == 0 ? std::string("plain")
                  : c > 0 ? std::to_string(c) : absl::StrCat("adaptive<=", -c);
  };
  // Warm-up: every shape once; not recorded.
  for (int c : configs) (void)decoding::RunBackendBeamSearch(request(prompts[0], c), *target);

  std::map<int, Totals> totals;
  std::vector<std::vector<int64_t>> plain_best(prompts.size());
  std::vector<double> loads;
  for (int rep = 0; rep < absl::GetFlag(FLAGS_reps); ++rep) {
    for (int c : configs) {
      loads.push_back(LoadAvg1());
      double seconds = 0;
      int64_t tokens = 0;
      Totals& t = totals[c];
      for (size_t p = 0; p < prompts.size(); ++p) {
        const absl::Time start = absl::Now();
        auto result = decoding::RunBackendBeamSearch(request(prompts[p], c), *target);
        seconds += absl::ToDoubleSeconds(absl::Now() - start);
        if (!result.ok()) {
          std::cerr << "draft_steps " << label(c) << ": " << result.status() << "\n";
          return 1;
        }
        const std::vector<int64_t>& best = result->sequences.front().hypothesis.tokens;
        tokens += static_cast<int64_t>(best.size());
        t.steps += result->steps;
        t.passes += result->target_passes;
        t.nodes += result->drafted_nodes;
        t.draft_s += absl::ToDoubleSeconds(result->draft_time);
        t.score_s += absl::ToDoubleSeconds(result->score_time);
        t.fork_s += absl::ToDoubleSeconds(result->fork_time);
        if (c == 0 && rep == 0) plain_best[p] = best;
        if (c != 0 && rep == 0 && best != plain_best[p]) ++t.differ;
      }
      t.tok_s.push_back(tokens / seconds);
      t.total_s += seconds;
      std::fprintf(stderr, "rep %d draft_steps %s: %.1f tok/s (load %.2f)\n", rep,
                   label(c).c_str(), tokens / seconds, loads.back());
    }
  }
  std::filesystem::create_directories(absl::GetFlag(FLAGS_out));
  std::ofstream csv(absl::GetFlag(FLAGS_out) + "/beam_results.csv");
  csv << "draft_steps,median_tok_s,ratio_vs_plain,steps_per_pass,tree_tokens_per_pass,"
         "prompts_differing,reps,draft_ms_per_pass,score_ms_per_pass,fork_ms_per_pass,"
         "other_ms_per_pass\n";
  const double plain = Median(totals[0].tok_s);
  std::printf("beam search, %d beams, %zu prompts x %d tokens, %s, %s, %d reps, load %.2f-%.2f\n",
              absl::GetFlag(FLAGS_num_beams), prompts.size(), absl::GetFlag(FLAGS_max_new_tokens),
              absl::GetFlag(FLAGS_dtype).c_str(), absl::GetFlag(FLAGS_transport).c_str(),
              absl::GetFlag(FLAGS_reps), *std::min_element(loads.begin(), loads.end()),
              *std::max_element(loads.begin(), loads.end()));
  std::printf("%-12s %10s %8s %11s %14s %7s   ms per pass: %6s %6s %6s %6s\n", "draft_steps",
              "tok/s", "ratio", "steps/pass", "tree tok/pass", "differ", "draft", "score", "fork",
              "other");
  for (int c : configs) {
    const Totals& t = totals[c];
    const double med = Median(t.tok_s);
    const double spp = t.passes ? static_cast<double>(t.steps) / t.passes : 0;
    const double npp = t.passes ? static_cast<double>(t.nodes) / t.passes : 0;
    const double per = t.passes ? 1e3 / t.passes : 0;
    const double other = t.total_s - t.draft_s - t.score_s - t.fork_s;
    std::printf("%-12s %10.1f %7.2fx %11.2f %14.1f %7d   ms per pass: %6.2f %6.2f %6.2f %6.2f\n",
                label(c).c_str(), med, med / plain, spp, npp,
                t.differ, t.draft_s * per, t.score_s * per, t.fork_s * per, other * per);
    csv << label(c) << "," << med << "," << med / plain << "," << spp << "," << npp << "," << t.differ
        << "," << t.tok_s.size() << "," << t.draft_s * per << "," << t.score_s * per << ","
        << t.fork_s * per << "," << other * per << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace tandem::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tandem::bench::Run();
}
