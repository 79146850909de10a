// speedup: measures speculative decoding against target-only decoding with
// the shipped pair — draft model, early-exit self-speculation and n-gram
// prompt lookup; γ = 1..8 and adaptive; greedy and sampled; in-process and
// over loopback gRPC; 1/4/16 concurrent streams. See docs/benchmarks.md.
//
//   bazel run //bench/speedup -- --out=/tmp/tandem_speedup
//   /usr/bin/python3 bench/speedup/plot.py /tmp/tandem_speedup/results.json docs/images

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/speedup/bench.h"

ABSL_FLAG(std::string, target, "assets/target", "Target model directory");
ABSL_FLAG(std::string, draft, "assets/draft", "Draft model directory");
ABSL_FLAG(std::string, prompts, "assets/bench_prompts.jsonl", "Held-out prompts (JSON lines, field \"prompt\")");
ABSL_FLAG(std::string, out, "/tmp/tandem_speedup", "Output directory (results.json, results.csv, per_position.csv)");
ABSL_FLAG(std::string, dtype, "bfloat16", "Weights dtype for both models: bfloat16 | float32");
ABSL_FLAG(int, num_prompts, 8, "Held-out prompts per configuration");
ABSL_FLAG(int, prompt_offset, 0, "Skip this many prompt lines");
ABSL_FLAG(int, max_new_tokens, 64, "Tokens generated per request (EOS ignored)");
ABSL_FLAG(std::string, gammas, "1,2,3,4,5,6,7,8", "Draft lengths to sweep");
ABSL_FLAG(bool, adaptive, true, "Also run adaptive draft length");
ABSL_FLAG(std::string, modes, "draft,self,ngram", "Speculative modes (target-only always runs): draft (pipelined), draft-seq (draft model, "
          "drafting after each verify), tree / tree-seq (draft model with token trees, --tree_*), "
          "self, ngram");
ABSL_FLAG(std::string, transports, "local,grpc", "local (in-process) and/or grpc (loopback servers)");
ABSL_FLAG(std::string, samplings, "greedy,sampled", "greedy and/or sampled");
ABSL_FLAG(double, temperature, 0.8, "Temperature of the sampled runs");
ABSL_FLAG(double, top_p, 0.95, "top-p of the sampled runs");
ABSL_FLAG(uint64_t, seed, 1234, "Base seed (request i uses seed + i)");
ABSL_FLAG(std::string, concurrency, "1,4,16", "Concurrent streams for the concurrency runs (greedy)");
ABSL_FLAG(int, concurrency_gamma, 0, "γ of the concurrency runs; 0 = each mode's best greedy γ");
ABSL_FLAG(bool, concurrency_adaptive, false, "Also run adaptive γ at each concurrency level");
ABSL_FLAG(int, micro_reps, 40, "Repetitions per direct forward timing");
ABSL_FLAG(bool, inline_batches, true,
          "Engines (local and gRPC) run an idle call's items on the caller's thread");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 = default");
ABSL_FLAG(bool, quick, false, "About a minute: 3 prompts x 32 tokens, γ in {1,2,4,8}, concurrency 1,4");
ABSL_FLAG(bool, progress, true, "Progress bar on stderr");
ABSL_FLAG(int, tree_alternatives, 1, "Modes tree / tree-seq: alternatives per drafted position");
ABSL_FLAG(int, tree_depth, 2, "Modes tree / tree-seq: drafted positions with alternatives");
ABSL_FLAG(bool, tree_adaptive, false,
          "Modes tree / tree-seq: draft the tree only in rounds where it pays (the orchestrator's "
          "default for requests without SpeculationConfig.tree)");

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipEmpty());
}

bool ParseInts(const std::string& s, std::vector<int>* out) {
  out->clear();
  for (const std::string& part : SplitList(s)) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 1) return false;
    out->push_back(v);
  }
  return !out->empty();
}

// Under `bazel run` relative paths are taken from the workspace.
std::string FromWorkspace(const std::string& path) {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (path.empty() || path[0] == '/' || ws == nullptr) return path;
  return std::string(ws) + "/" + path;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Speculative decoding speedup benchmark on the shipped draft/target pair.");
  absl::ParseCommandLine(argc, argv);
  tandem::bench::BenchOptions o;
  o.target_dir = FromWorkspace(absl::GetFlag(FLAGS_target));
  o.draft_dir = FromWorkspace(absl::GetFlag(FLAGS_draft));
  o.prompts_path = FromWorkspace(absl::GetFlag(FLAGS_prompts));
  o.out_dir = FromWorkspace(absl::GetFlag(FLAGS_out));
  o.dtype = absl::GetFlag(FLAGS_dtype);
  o.num_prompts = absl::GetFlag(FLAGS_num_prompts);
  o.prompt_offset = absl::GetFlag(FLAGS_prompt_offset);
  o.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  o.adaptive = absl::GetFlag(FLAGS_adaptive);
  o.modes = SplitList(absl::GetFlag(FLAGS_modes));
  o.transports = SplitList(absl::GetFlag(FLAGS_transports));
  o.samplings = SplitList(absl::GetFlag(FLAGS_samplings));
  o.temperature = absl::GetFlag(FLAGS_temperature);
  o.top_p = absl::GetFlag(FLAGS_top_p);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.concurrency_gamma = absl::GetFlag(FLAGS_concurrency_gamma);
  o.concurrency_adaptive = absl::GetFlag(FLAGS_concurrency_adaptive);
  o.micro_reps = absl::GetFlag(FLAGS_micro_reps);
  o.inline_batches = absl::GetFlag(FLAGS_inline_batches);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.progress = absl::GetFlag(FLAGS_progress);
  o.tree_alternatives = absl::GetFlag(FLAGS_tree_alternatives);
  o.tree_depth = absl::GetFlag(FLAGS_tree_depth);
  o.tree_adaptive = absl::GetFlag(FLAGS_tree_adaptive);
  if (!ParseInts(absl::GetFlag(FLAGS_gammas), &o.gammas) ||
      !ParseInts(absl::GetFlag(FLAGS_concurrency), &o.concurrency)) {
    std::cerr << "error: --gammas and --concurrency take comma-separated positive integers\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_quick)) {
    o.num_prompts = 3;
    o.max_new_tokens = 32;
    o.gammas = {1, 2, 4, 8};
    o.concurrency = {1, 4};
    o.micro_reps = 15;
  }
  for (const auto& m : o.modes) {
    if (m != "draft" && m != "draft-seq" && m != "tree" && m != "tree-seq" && m != "self" &&
        m != "ngram") {
      std::cerr << "error: --modes: unknown mode '" << m << "'\n";
      return 2;
    }
  }
  for (const auto& t : o.transports) {
    if (t != "local" && t != "grpc") {
      std::cerr << "error: --transports: unknown transport '" << t << "'\n";
      return 2;
    }
  }
  for (const auto& s : o.samplings) {
    if (s != "greedy" && s != "sampled") {
      std::cerr << "error: --samplings: unknown sampling '" << s << "'\n";
      return 2;
    }
  }
  if (o.num_prompts < 1 || o.max_new_tokens < 1) {
    std::cerr << "error: --num_prompts and --max_new_tokens must be >= 1\n";
    return 2;
  }
  absl::Status status = tandem::bench::RunSpeedupBenchmark(o);
  if (!status.ok()) {
    std::cerr << "\nerror: " << status << "\n";
    return 1;
  }
  return 0;
}
