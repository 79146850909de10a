// gpu_check: builds random-weight Llama models in memory, checks the
// invariants the server relies on, and times decode against the memory
// roofline. Built by tools/gpu_check/run.sh with plain g++ (no Bazel), so it
// takes plain argv flags (--name=value) and only needs model/*.cc, LibTorch
// and Abseil.
//
// Checks, per model config and dtype:
//   (a) batched == per-sequence: 4 sequences of different prompt lengths run
//       together (prefill, then decode and multi-token steps) vs each alone.
//   (b) verify rows == decode rows: n tokens scored in one Forward
//       (all_logits) vs the same tokens fed one at a time (Truncate between).
//   (c) early-exit reuse: a full pass over tokens drafted with exit_layer
//       (reusing the early layers' cache) vs a plain full pass.
// Each comparison reports max|diff| relative to the reference logits' std,
// and argmax agreement. Verdict: PASS (argmax equal everywhere, diff within
// tolerance), WARN (within tolerance; argmax differs only at near-ties, where
// the reference's top-2 gap is below twice that row's diff), FAIL otherwise.
//
// Benchmarks: decode ms/token after a prefill (asynchronous, and with an
// argmax read back every token as a sampling loop does), batch-4 decode,
// verify cost t(n)/t(1) for n = 1..9 new tokens, and the roofline: bytes
// streamed per token (weights + KV read) over the HBM bandwidth, both the
// nominal --hbm_gbps and one measured with a large device-to-device copy.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/model_config.h"
#include "model/transformer_model.h"

namespace {

using tandem::model::Architecture;
using tandem::model::Checkpoint;
using tandem::model::ForwardRequest;
using tandem::model::ModelConfig;
using tandem::model::SequenceId;
using tandem::model::TransformerModel;
using tandem::model::TransformerOptions;

// ---------------------------------------------------------------- output

std::string g_log;  // Everything printed, for --out.

void Print(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Print(const char* format, ...) {
  char buffer[4096];
  va_list args;
  va_start(args, format);
  vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  fputs(buffer, stdout);
  fflush(stdout);
  g_log += buffer;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// ---------------------------------------------------------------- flags

struct Flags {
  std::string device = "cuda";
  std::string configs = "100m,100m-gqa,1b";
  std::string dtypes = "f32,bf16";
  double hbm_gbps = 4800;  // H200 HBM3e nominal; H100 SXM: 3350.
  int64_t prefill = 64;
  int64_t warmup = 8;
  int64_t decode_tokens = 64;
  int64_t verify_max = 9;
  int64_t verify_reps = 20;
  int64_t copy_mib = 1024;
  double tol_f32 = 1e-3;   // max|diff| / std(reference logits)
  double tol_bf16 = 5e-2;
  double tol_f16 = 2e-2;
  uint64_t seed = 1;
  bool bench = true;
  bool checks = true;
  std::string out;  // Default: $OUT/gpu_check.txt when $OUT is set.
};

const char* kUsage = R"(usage: gpu_check [--name=value ...]
  --device=cuda|cpu         (default cuda)
  --configs=LIST            comma-separated: tiny, tiny-mha, small, 100m,
                            100m-gqa, 1b, or custom:H:L:HEADS:KV:I:V:CTX
                            (default 100m,100m-gqa,1b)
  --dtypes=LIST             f32, bf16, f16 (default f32,bf16)
  --hbm_gbps=N              nominal memory bandwidth, GB/s (default 4800, H200)
  --prefill=N --warmup=N --decode_tokens=N   decode benchmark (64, 8, 64)
  --verify_max=N --verify_reps=N             verify cost (9, 20)
  --copy_mib=N              bandwidth probe size (default 1024)
  --tol_f32=X --tol_bf16=X --tol_f16=X       max|diff|/std(logits) limits
  --seed=N --bench=0|1 --checks=0|1
  --out=PATH                also write the log here (default $OUT/gpu_check.txt)
)";

bool ParseFlags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fputs(kUsage, stdout);
      exit(0);
    }
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      fprintf(stderr, "bad argument %s\n%s", arg.c_str(), kUsage);
      return false;
    }
    const std::string name = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    try {
      if (name == "device") f.device = value;
      else if (name == "configs") f.configs = value;
      else if (name == "dtypes") f.dtypes = value;
      else if (name == "hbm_gbps") f.hbm_gbps = std::stod(value);
      else if (name == "prefill") f.prefill = std::stoll(value);
      else if (name == "warmup") f.warmup = std::stoll(value);
      else if (name == "decode_tokens") f.decode_tokens = std::stoll(value);
      else if (name == "verify_max") f.verify_max = std::stoll(value);
      else if (name == "verify_reps") f.verify_reps = std::stoll(value);
      else if (name == "copy_mib") f.copy_mib = std::stoll(value);
      else if (name == "tol_f32") f.tol_f32 = std::stod(value);
      else if (name == "tol_bf16") f.tol_bf16 = std::stod(value);
      else if (name == "tol_f16") f.tol_f16 = std::stod(value);
      else if (name == "seed") f.seed = std::stoull(value);
      else if (name == "bench") f.bench = value != "0" && value != "false";
      else if (name == "checks") f.checks = value != "0" && value != "false";
      else if (name == "out") f.out = value;
      else {
        fprintf(stderr, "unknown flag --%s\n%s", name.c_str(), kUsage);
        return false;
      }
    } catch (const std::exception&) {
      fprintf(stderr, "bad value for --%s: %s\n", name.c_str(), value.c_str());
      return false;
    }
  }
  f.prefill = std::max<int64_t>(f.prefill, 1);
  f.decode_tokens = std::max<int64_t>(f.decode_tokens, 1);
  f.verify_max = std::max<int64_t>(f.verify_max, 1);
  f.verify_reps = std::max<int64_t>(f.verify_reps, 1);
  return true;
}

// ---------------------------------------------------------------- configs

struct Spec {
  std::string name;
  int64_t hidden, layers, heads, kv_heads, inter, vocab, ctx;
};

bool LookupSpec(const std::string& name, Spec& s) {
  static const std::map<std::string, Spec> kSpecs = {
      {"tiny", {"tiny", 128, 4, 4, 2, 256, 1024, 512}},
      {"tiny-mha", {"tiny-mha", 128, 3, 4, 4, 384, 1024, 512}},
      {"small", {"small", 384, 6, 6, 2, 1024, 8000, 1024}},
      {"100m", {"100m", 768, 12, 12, 12, 2048, 32000, 2048}},
      {"100m-gqa", {"100m-gqa", 768, 12, 12, 4, 2048, 32000, 2048}},
      {"1b", {"1b", 2048, 16, 32, 8, 8192, 32000, 2048}},
  };
  auto it = kSpecs.find(name);
  if (it != kSpecs.end()) {
    s = it->second;
    return true;
  }
  std::vector<std::string> p = Split(name, ':');
  if (p.size() == 8 && p[0] == "custom") {
    try {
      s = {name,
           std::stoll(p[1]), std::stoll(p[2]), std::stoll(p[3]), std::stoll(p[4]),
           std::stoll(p[5]), std::stoll(p[6]), std::stoll(p[7])};
      return true;
    } catch (const std::exception&) {
    }
  }
  return false;
}

// Random Llama weights under their Hugging Face names. Every matrix is
// N(0, 1/fan_in) (std 0.011..0.036 for these sizes, i.e. the usual ~0.02 but
// scaled so activations stay O(1)); embeddings N(0, 1); norms 1 + N(0, 0.1);
// the LM head 3/sqrt(H), giving logits of std ~3 so argmax is meaningful.
Checkpoint MakeCheckpoint(const Spec& s, const at::Device& device, uint64_t seed) {
  Checkpoint c;
  ModelConfig& m = c.config;
  m.architecture = Architecture::kLlama;
  m.name = "gpu-check-" + s.name;
  m.vocab_size = s.vocab;
  m.hidden_size = s.hidden;
  m.intermediate_size = s.inter;
  m.num_hidden_layers = s.layers;
  m.num_attention_heads = s.heads;
  m.num_key_value_heads = s.kv_heads;
  m.head_dim = s.hidden / s.heads;
  m.max_position_embeddings = s.ctx;
  m.norm_eps = 1e-5;
  m.rope_theta = 10000.0;
  m.tie_word_embeddings = false;
  m.bos_token_ids = {1};
  m.eos_token_ids = {2};
  at::manual_seed(seed);
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  auto normal = [&](std::vector<int64_t> shape, double std) {
    return at::randn(shape, options).mul_(std);
  };
  auto matrix = [&](int64_t out, int64_t in) {
    return normal({out, in}, 1.0 / std::sqrt(static_cast<double>(in)));
  };
  auto norm = [&](int64_t n) { return normal({n}, 0.1).add_(1.0); };
  const int64_t h = s.hidden, d = s.hidden / s.heads;
  c.tensors["model.embed_tokens.weight"] = normal({s.vocab, h}, 1.0);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    c.tensors[p + "input_layernorm.weight"] = norm(h);
    c.tensors[p + "post_attention_layernorm.weight"] = norm(h);
    c.tensors[p + "self_attn.q_proj.weight"] = matrix(s.heads * d, h);
    c.tensors[p + "self_attn.k_proj.weight"] = matrix(s.kv_heads * d, h);
    c.tensors[p + "self_attn.v_proj.weight"] = matrix(s.kv_heads * d, h);
    c.tensors[p + "self_attn.o_proj.weight"] = matrix(h, s.heads * d);
    c.tensors[p + "mlp.gate_proj.weight"] = matrix(s.inter, h);
    c.tensors[p + "mlp.up_proj.weight"] = matrix(s.inter, h);
    c.tensors[p + "mlp.down_proj.weight"] = matrix(h, s.inter);
  }
  c.tensors["model.norm.weight"] = norm(h);
  c.tensors["lm_head.weight"] = normal({s.vocab, h}, 3.0 / std::sqrt(static_cast<double>(h)));
  return c;
}

// Bytes one decode step must stream from memory besides the KV cache: every
// layer matrix, the norms and the LM head (the embedding contributes one
// row). `rotated_rows`: TransformerModel's LibTorch (CUDA) path also keeps
// R·W_q and R·W_k in the fused QKV matrix for RoPE (heads + kv_heads more
// blocks of rows), which it streams too.
int64_t StreamedWeightBytes(const Spec& s, int64_t element, bool rotated_rows) {
  const int64_t h = s.hidden, d = s.hidden / s.heads;
  const int64_t qkv_blocks = s.heads + 2 * s.kv_heads + (rotated_rows ? s.heads + s.kv_heads : 0);
  const int64_t per_layer = qkv_blocks * d * h          // q, k, v (+ rotated)
                            + h * s.heads * d           // o
                            + 2 * s.inter * h + h * s.inter  // gate/up, down
                            + 2 * h;                    // norms
  return (s.layers * per_layer + s.vocab * h + 2 * h) * element;
}

int64_t HfParameterCount(const Spec& s) {
  const int64_t h = s.hidden, d = s.hidden / s.heads;
  const int64_t per_layer = (s.heads + 2 * s.kv_heads) * d * h + h * s.heads * d +
                            3 * s.inter * h + 2 * h;
  return s.layers * per_layer + 2 * s.vocab * h + h;
}

// ---------------------------------------------------------------- helpers

struct Env {
  at::Device device = at::kCPU;
  bool cuda = false;
  void Sync() const {
    if (cuda) torch::cuda::synchronize();
  }
};

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int64_t> RandomTokens(std::mt19937_64& rng, int64_t n, int64_t vocab) {
  std::uniform_int_distribution<int64_t> dist(3, vocab - 1);
  std::vector<int64_t> out(n);
  for (int64_t& t : out) t = dist(rng);
  return out;
}

// Thrown on a model error, caught per (config, dtype).
struct Failure {
  std::string what;
};

at::Tensor ForwardOne(TransformerModel& m, SequenceId id, absl::Span<const int64_t> tokens,
                      int64_t exit_layer = 0, bool all_logits = true) {
  absl::StatusOr<at::Tensor> out = m.ForwardOne(id, tokens, exit_layer, all_logits);
  if (!out.ok()) throw Failure{out.status().ToString()};
  return *std::move(out);
}

std::vector<at::Tensor> ForwardBatch(TransformerModel& m,
                                     const std::vector<ForwardRequest>& batch) {
  absl::StatusOr<std::vector<at::Tensor>> out = m.Forward(batch);
  if (!out.ok()) throw Failure{out.status().ToString()};
  return *std::move(out);
}

void Truncate(TransformerModel& m, SequenceId id, int64_t length) {
  absl::Status s = m.Truncate(id, length);
  if (!s.ok()) throw Failure{s.ToString()};
}

// Accumulated comparison of logits [T, V] against a reference.
struct Diff {
  double max_abs = 0;
  double sum_abs = 0;
  int64_t count = 0;
  double scale = 0;  // Largest std of the reference logits seen.
  int64_t rows = 0;
  int64_t argmax_mismatch = 0;
  int64_t near_tie_mismatch = 0;

  void Add(const at::Tensor& got_in, const at::Tensor& ref_in) {
    at::Tensor got = got_in.to(at::kFloat), ref = ref_in.to(at::kFloat);
    if (got.sizes() != ref.sizes()) {
      throw Failure{"logits shapes differ: " + std::to_string(got.size(0)) + " vs " +
                    std::to_string(ref.size(0)) + " rows"};
    }
    at::Tensor row_diff = (got - ref).abs().amax(-1);  // [T]
    at::Tensor got_arg = got.argmax(-1), ref_arg = ref.argmax(-1);
    at::Tensor ref_max = std::get<0>(ref.max(-1));
    at::Tensor ref_at_got = ref.gather(1, got_arg.unsqueeze(1)).squeeze(1);
    at::Tensor mismatch = got_arg.ne(ref_arg);
    at::Tensor near_tie = mismatch.logical_and((ref_max - ref_at_got).le(row_diff * 2));
    max_abs = std::max(max_abs, row_diff.max().item<double>());
    sum_abs += (got - ref).abs().sum().item<double>();
    count += got.numel();
    scale = std::max(scale, ref.std().item<double>());
    rows += got.size(0);
    argmax_mismatch += mismatch.sum().item<int64_t>();
    near_tie_mismatch += near_tie.sum().item<int64_t>();
  }
};

struct Tally {
  int pass = 0, warn = 0, fail = 0;
  std::vector<std::string> lines;  // For the final summary.
};

void Report(const std::string& what, const Diff& d, double tol, Tally& tally,
            const std::string& tag) {
  const double rel = d.scale > 0 ? d.max_abs / d.scale : d.max_abs;
  const char* verdict;
  if (d.argmax_mismatch == 0 && rel <= tol) {
    verdict = "PASS";
    ++tally.pass;
  } else if (rel <= tol && d.argmax_mismatch == d.near_tie_mismatch) {
    verdict = "WARN";
    ++tally.warn;
  } else {
    verdict = "FAIL";
    ++tally.fail;
  }
  char line[512];
  snprintf(line, sizeof(line),
           "  %-4s %-34s rows=%-4lld max|diff|=%.3e mean|diff|=%.1e logit std=%.3f rel=%.2e "
           "(tol %.0e) argmax mismatches=%lld (near-ties %lld)\n",
           verdict, what.c_str(), static_cast<long long>(d.rows), d.max_abs,
           d.count > 0 ? d.sum_abs / d.count : 0.0, d.scale, rel, tol,
           static_cast<long long>(d.argmax_mismatch),
           static_cast<long long>(d.near_tie_mismatch));
  Print("%s", line);
  char tagged[600];
  snprintf(tagged, sizeof(tagged), "%-15s%s", tag.c_str(), line + 1);
  tally.lines.push_back(tagged);
}

// ---------------------------------------------------------------- checks

// (a) 4 sequences together vs each alone. Steps: a prefill of different
// lengths, decode steps, and mixed steps where some sequences feed several
// tokens (verify-like) while others decode.
Diff CheckBatched(TransformerModel& m, const Spec& s, std::mt19937_64& rng) {
  const int64_t n = 4;
  std::vector<int64_t> prompt = {5, 17, 33, 64};
  const std::vector<std::vector<int64_t>> steps = {
      {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 3, 1, 5}, {1, 1, 1, 1},
      {2, 1, 4, 1}, {1, 1, 1, 1}, {9, 1, 1, 1}, {1, 1, 1, 1},
  };
  for (int64_t& p : prompt) p = std::min<int64_t>(p, s.ctx / 4);
  // chunks[i][k]: tokens of sequence i at step k (step 0: the prompt).
  std::vector<std::vector<std::vector<int64_t>>> chunks(n);
  for (int64_t i = 0; i < n; ++i) {
    chunks[i].push_back(RandomTokens(rng, prompt[i], s.vocab));
    for (const auto& step : steps) chunks[i].push_back(RandomTokens(rng, step[i], s.vocab));
  }
  const int64_t num_steps = static_cast<int64_t>(chunks[0].size());
  std::vector<std::vector<at::Tensor>> batched(n);
  for (int64_t k = 0; k < num_steps; ++k) {
    std::vector<ForwardRequest> batch;
    for (int64_t i = 0; i < n; ++i) {
      batch.push_back(ForwardRequest{static_cast<SequenceId>(100 + i), chunks[i][k], 0, true});
    }
    std::vector<at::Tensor> out = ForwardBatch(m, batch);
    for (int64_t i = 0; i < n; ++i) batched[i].push_back(out[i]);
  }
  Diff diff;
  for (int64_t i = 0; i < n; ++i) {
    const SequenceId id = 200 + i;
    for (int64_t k = 0; k < num_steps; ++k) {
      diff.Add(batched[i][k], ForwardOne(m, id, chunks[i][k]));
    }
    m.Release(id);
    m.Release(100 + i);
  }
  return diff;
}

// (b) n tokens in one pass (all_logits) vs one at a time, from the same
// prefix; Truncate rolls the sequence back in between.
Diff CheckVerifyRows(TransformerModel& m, const Spec& s, std::mt19937_64& rng,
                     int64_t prefill, int64_t verify_max) {
  const SequenceId id = 300;
  const int64_t base = std::min<int64_t>(prefill, s.ctx / 4);
  ForwardOne(m, id, RandomTokens(rng, base, s.vocab), 0, false);
  Diff diff;
  std::vector<int64_t> sizes = {2, 5, verify_max};
  for (int64_t count : sizes) {
    if (count < 2) continue;
    std::vector<int64_t> tokens = RandomTokens(rng, count, s.vocab);
    at::Tensor rows = ForwardOne(m, id, tokens);  // [count, V]
    Truncate(m, id, base);
    for (int64_t j = 0; j < count; ++j) {
      at::Tensor one = ForwardOne(m, id, absl::MakeConstSpan(&tokens[j], 1));
      diff.Add(rows.narrow(0, j, 1), one);
    }
    Truncate(m, id, base);
  }
  m.Release(id);
  return diff;
}

// (c) drafting with exit_layer, then a full pass over the drafted tokens
// (which reuses the early layers' cache) vs a plain full pass.
Diff CheckEarlyExit(TransformerModel& m, const Spec& s, std::mt19937_64& rng, int64_t prefill) {
  const int64_t exit = std::max<int64_t>(1, s.layers / 2);
  const int64_t base = std::min<int64_t>(prefill, s.ctx / 4);
  std::vector<int64_t> prompt = RandomTokens(rng, base, s.vocab);
  std::vector<int64_t> draft = RandomTokens(rng, 4, s.vocab);
  const SequenceId a = 400, b = 401;
  ForwardOne(m, a, prompt, 0, false);
  ForwardOne(m, b, prompt, 0, false);
  for (const int64_t& t : draft) ForwardOne(m, a, absl::MakeConstSpan(&t, 1), exit, false);
  Diff diff;
  diff.Add(ForwardOne(m, a, draft), ForwardOne(m, b, draft));
  m.Release(a);
  m.Release(b);
  return diff;
}

// ---------------------------------------------------------------- benchmarks

// (d) The device path against the CPU decoder (model/cpu, checked against a
// float64 reference by the CPU tests) on the same weights: the logits of a
// 24-token prompt. Skipped for models over 500M parameters (slow on CPU).
Diff CheckAgainstCpu(TransformerModel& m, const Checkpoint& ck, at::ScalarType dtype,
                     const Spec& s, std::mt19937_64& rng) {
  TransformerOptions cpu_options;
  cpu_options.dtype = dtype;
  cpu_options.max_context = std::min<int64_t>(s.ctx, 256);
  absl::StatusOr<std::unique_ptr<TransformerModel>> cpu =
      TransformerModel::Create(ck, cpu_options);
  if (!cpu.ok()) throw Failure{"CPU Create: " + cpu.status().ToString()};
  const std::vector<int64_t> prompt = RandomTokens(rng, 24, s.vocab);
  Diff d;
  at::Tensor device_logits = ForwardOne(m, 8801, prompt, 0, true).cpu();
  at::Tensor cpu_logits = ForwardOne(**cpu, 8801, prompt, 0, true);
  m.Release(8801);
  d.Add(device_logits, cpu_logits);
  return d;
}

const char* DtypeName(at::ScalarType t) {
  return t == at::kFloat ? "f32" : t == at::kBFloat16 ? "bf16" : "f16";
}


double MeasureCopyGbps(const Env& env, int64_t mib) {
  const int64_t bytes = mib << 20;
  at::Tensor src = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(env.device));
  at::Tensor dst = at::empty_like(src);
  src.fill_(1);
  for (int i = 0; i < 3; ++i) dst.copy_(src);
  env.Sync();
  const int reps = 10;
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) dst.copy_(src);
  env.Sync();
  const double ms = Ms(t0, Clock::now());
  return 2.0 * bytes * reps / (ms * 1e-3) / 1e9;  // read + write
}

void Bench(TransformerModel& m, const Spec& s, at::ScalarType dtype, const Flags& f,
           const Env& env, double measured_gbps, std::mt19937_64& rng,
           std::vector<std::string>& summary) {
  const int64_t base = std::min<int64_t>(f.prefill, s.ctx / 2);
  const int64_t tokens =
      std::min<int64_t>(f.decode_tokens, s.ctx - base - f.warmup - f.verify_max - 1);
  if (tokens < 1) {
    Print("  (context too short to benchmark)\n");
    return;
  }
  const SequenceId id = 500;
  ForwardOne(m, id, RandomTokens(rng, base, s.vocab), 0, false);
  std::vector<int64_t> next = RandomTokens(rng, f.warmup + tokens, s.vocab);
  for (int64_t i = 0; i < f.warmup; ++i) {
    ForwardOne(m, id, absl::MakeConstSpan(&next[i], 1), 0, false);
  }
  env.Sync();
  const int64_t start = base + f.warmup;
  // Asynchronous: the host queues the next step while the device runs.
  auto t0 = Clock::now();
  for (int64_t i = 0; i < tokens; ++i) {
    ForwardOne(m, id, absl::MakeConstSpan(&next[f.warmup + i], 1), 0, false);
  }
  env.Sync();
  const double async_ms = Ms(t0, Clock::now()) / tokens;
  Truncate(m, id, start);
  // Greedy loop: argmax read back every token, as sampling does.
  int64_t token = next[f.warmup];
  t0 = Clock::now();
  for (int64_t i = 0; i < tokens; ++i) {
    at::Tensor logits = ForwardOne(m, id, absl::MakeConstSpan(&token, 1), 0, false);
    token = logits.argmax(-1).item<int64_t>();
  }
  const double sync_ms = Ms(t0, Clock::now()) / tokens;
  Truncate(m, id, start);

  // Verify cost: n new tokens with all logits, latency to completion.
  std::vector<double> verify_ms;
  for (int64_t n = 1; n <= f.verify_max; ++n) {
    std::vector<int64_t> toks = RandomTokens(rng, n, s.vocab);
    std::vector<double> times;
    for (int64_t r = 0; r < f.verify_reps + 2; ++r) {
      env.Sync();
      const auto a = Clock::now();
      at::Tensor logits = ForwardOne(m, id, toks, 0, true);
      env.Sync();
      if (r >= 2) times.push_back(Ms(a, Clock::now()));
      Truncate(m, id, start);
    }
    verify_ms.push_back(Median(times));
  }
  m.Release(id);

  // Batch of 4 decoding together (ms per step, 4 tokens a step).
  std::vector<ForwardRequest> batch;
  std::vector<std::vector<int64_t>> one(4);
  for (int i = 0; i < 4; ++i) {
    ForwardOne(m, 600 + i, RandomTokens(rng, base, s.vocab), 0, false);
    one[i] = RandomTokens(rng, 1, s.vocab);
  }
  for (int i = 0; i < 4; ++i) batch.push_back(ForwardRequest{static_cast<SequenceId>(600 + i), one[i], 0, false});
  for (int64_t i = 0; i < f.warmup; ++i) ForwardBatch(m, batch);
  env.Sync();
  const int64_t batch_steps = std::min<int64_t>(tokens, 32);
  t0 = Clock::now();
  for (int64_t i = 0; i < batch_steps; ++i) ForwardBatch(m, batch);
  env.Sync();
  const double batch_ms = Ms(t0, Clock::now()) / batch_steps;
  for (int i = 0; i < 4; ++i) m.Release(600 + i);

  // Roofline: the floor counts the bytes any implementation must stream;
  // this implementation's own traffic (rotated QKV rows) is shown beside it.
  const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t weight_bytes = StreamedWeightBytes(s, element, false);
  const int64_t impl_weight_bytes = StreamedWeightBytes(s, element, env.cuda);
  const int64_t kv_per_token = m.info().kv_bytes_per_token;
  const double avg_context = start + tokens / 2.0;
  const double bytes = weight_bytes + kv_per_token * avg_context;
  const double impl_bytes = impl_weight_bytes + kv_per_token * avg_context;
  const double floor_nominal = bytes / (f.hbm_gbps * 1e9) * 1e3;
  const double floor_measured = measured_gbps > 0 ? bytes / (measured_gbps * 1e9) * 1e3 : 0;

  Print("  decode (prefill %lld, %lld tokens): %.3f ms/token async, %.3f ms/token with argmax "
        "readback (%.0f tok/s)\n",
        static_cast<long long>(base), static_cast<long long>(tokens), async_ms, sync_ms,
        1e3 / sync_ms);
  Print("  batch-4 decode: %.3f ms/step (%.3f ms/token, %.0f tok/s)\n", batch_ms, batch_ms / 4,
        4e3 / batch_ms);
  Print("  verify t(n) ms, n = new tokens scored in one pass (ratio to n=1):\n   ");
  for (size_t i = 0; i < verify_ms.size(); ++i) {
    Print(" n=%zu:%.3f(%.2fx)", i + 1, verify_ms[i], verify_ms[i] / verify_ms[0]);
  }
  Print("\n");
  Print("  roofline: %.1f MB/token must be streamed (weights %.1f MB + KV %.2f MB at avg context "
        "%.0f); this implementation streams %.1f MB\n",
        bytes / 1e6, weight_bytes / 1e6, kv_per_token * avg_context / 1e6, avg_context,
        impl_bytes / 1e6);
  Print("            floor %.3f ms/token at %.0f GB/s nominal", floor_nominal, f.hbm_gbps);
  if (measured_gbps > 0) Print(", %.3f ms/token at %.0f GB/s measured", floor_measured, measured_gbps);
  Print("\n            decode (async) is %.1fx the nominal floor (%.0f%% of nominal bandwidth",
        async_ms / floor_nominal, 100.0 * floor_nominal / async_ms);
  if (measured_gbps > 0) Print(", %.0f%% of measured", 100.0 * floor_measured / async_ms);
  Print(")\n");

  char line[512];
  snprintf(line, sizeof(line),
           "%-10s %-5s decode %7.3f ms/tok async %7.3f sync | floor %6.3f nominal %6.3f "
           "measured | %5.1fx floor | batch4 %7.3f ms/step | verify t(%lld)/t(1)=%.2f\n",
           s.name.c_str(), DtypeName(dtype), async_ms, sync_ms, floor_nominal, floor_measured,
           async_ms / floor_nominal, batch_ms, static_cast<long long>(f.verify_max),
           verify_ms.back() / verify_ms.front());
  summary.push_back(line);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, f)) return 2;
  if (f.out.empty()) {
    const char* out = getenv("OUT");
    if (out != nullptr && *out != '\0') f.out = std::string(out) + "/gpu_check.txt";
  }
  Env env;
  try {
    if (f.device == "cuda") {
      if (!torch::cuda::is_available()) {
        Print("FATAL: --device=cuda but LibTorch sees no CUDA device (is libtorch_cuda linked?)\n");
        return 3;
      }
      env.device = at::Device(at::kCUDA, 0);
      env.cuda = true;
    } else if (f.device != "cpu") {
      Print("FATAL: --device must be cuda or cpu\n");
      return 2;
    }
  } catch (const c10::Error& e) {
    Print("FATAL: %s\n", e.what_without_backtrace());
    return 3;
  }
  std::vector<Spec> specs;
  for (const std::string& name : Split(f.configs, ',')) {
    Spec s;
    if (!LookupSpec(name, s)) {
      fprintf(stderr, "unknown config %s\n%s", name.c_str(), kUsage);
      return 2;
    }
    specs.push_back(s);
  }
  std::vector<at::ScalarType> dtypes;
  for (const std::string& name : Split(f.dtypes, ',')) {
    if (name == "f32") dtypes.push_back(at::kFloat);
    else if (name == "bf16") dtypes.push_back(at::kBFloat16);
    else if (name == "f16") dtypes.push_back(at::kHalf);
    else {
      fprintf(stderr, "unknown dtype %s\n", name.c_str());
      return 2;
    }
  }

  Print("gpu_check: device=%s configs=%s dtypes=%s nominal HBM %.0f GB/s, libtorch %s, "
        "%d intra-op threads\n",
        f.device.c_str(), f.configs.c_str(), f.dtypes.c_str(), f.hbm_gbps, TORCH_VERSION,
        at::get_num_threads());
  double measured_gbps = 0;
  try {
    measured_gbps = MeasureCopyGbps(env, env.cuda ? f.copy_mib : std::min<int64_t>(f.copy_mib, 256));
    Print("measured copy bandwidth: %.0f GB/s (%lld MiB %s-to-%s copy, read + write counted)\n",
          measured_gbps, static_cast<long long>(env.cuda ? f.copy_mib : std::min<int64_t>(f.copy_mib, 256)),
          f.device.c_str(), f.device.c_str());
  } catch (const c10::Error& e) {
    Print("bandwidth probe failed: %s\n", e.what_without_backtrace());
  }

  Tally tally;
  std::vector<std::string> bench_summary;
  std::vector<std::string> errors;
  const auto all_start = Clock::now();
  for (const Spec& s : specs) {
    const auto t_make = Clock::now();
    Checkpoint checkpoint;
    try {
      checkpoint = MakeCheckpoint(s, env.device, f.seed);
      env.Sync();
    } catch (const c10::Error& e) {
      errors.push_back(s.name + ": making weights: " + e.what_without_backtrace());
      Print("ERROR %s\n", errors.back().c_str());
      continue;
    }
    Print("\n=== %s: hidden %lld, %lld layers, %lld heads / %lld kv heads, intermediate %lld, "
          "vocab %lld, ctx %lld; %.1fM parameters (weights made in %.0f ms)\n",
          s.name.c_str(), static_cast<long long>(s.hidden), static_cast<long long>(s.layers),
          static_cast<long long>(s.heads), static_cast<long long>(s.kv_heads),
          static_cast<long long>(s.inter), static_cast<long long>(s.vocab),
          static_cast<long long>(s.ctx), HfParameterCount(s) / 1e6, Ms(t_make, Clock::now()));
    for (at::ScalarType dtype : dtypes) {
      const std::string tag = s.name + "/" + DtypeName(dtype);
      try {
        const auto t0 = Clock::now();
        TransformerOptions options;
        options.dtype = dtype;
        options.device = env.device;
        options.max_context = s.ctx;
        absl::StatusOr<std::unique_ptr<TransformerModel>> model =
            TransformerModel::Create(checkpoint, options);
        if (!model.ok()) throw Failure{"Create: " + model.status().ToString()};
        env.Sync();
        TransformerModel& m = **model;
        Print("--- %s: model built in %.0f ms, %lld parameters, KV %lld bytes/token\n", tag.c_str(),
              Ms(t0, Clock::now()), static_cast<long long>(m.info().parameter_count),
              static_cast<long long>(m.info().kv_bytes_per_token));
        std::mt19937_64 rng(f.seed * 7919 + s.hidden);
        const double tol = dtype == at::kFloat ? f.tol_f32 : dtype == at::kBFloat16 ? f.tol_bf16 : f.tol_f16;
        if (f.checks) {
          auto tc = Clock::now();
          Report("(a) batched == per-sequence", CheckBatched(m, s, rng), tol, tally, tag);
          Report("(b) verify rows == decode rows", CheckVerifyRows(m, s, rng, f.prefill, f.verify_max),
                 tol, tally, tag);
          Report("(c) early-exit reuse == full pass", CheckEarlyExit(m, s, rng, f.prefill), tol,
                 tally, tag);
          if (!env.device.is_cpu() && HfParameterCount(s) <= 500'000'000) {
            Report("(d) device == CPU decoder", CheckAgainstCpu(m, checkpoint, dtype, s, rng), tol,
                   tally, tag);
          }
          Print("  checks took %.0f ms\n", Ms(tc, Clock::now()));
        }
        if (f.bench) Bench(m, s, dtype, f, env, measured_gbps, rng, bench_summary);
        if (m.num_sequences() != 0) {
          Print("  note: %lld sequences still cached\n", static_cast<long long>(m.num_sequences()));
        }
      } catch (const Failure& e) {
        errors.push_back(tag + ": " + e.what);
        Print("ERROR %s\n", errors.back().c_str());
      } catch (const c10::Error& e) {
        errors.push_back(tag + ": " + e.what_without_backtrace());
        Print("ERROR %s\n", errors.back().c_str());
      } catch (const std::exception& e) {
        errors.push_back(tag + ": " + e.what());
        Print("ERROR %s\n", errors.back().c_str());
      }
    }
  }

  Print("\n================ SUMMARY (%s, %.1f s) ================\n", f.device.c_str(),
        Ms(all_start, Clock::now()) / 1e3);
  Print("checks: %d PASS, %d WARN, %d FAIL, %zu errors (tolerances: max|diff|/std(logits) <= "
        "%.0e f32, %.0e bf16, %.0e f16)\n",
        tally.pass, tally.warn, tally.fail, errors.size(), f.tol_f32, f.tol_bf16, f.tol_f16);
  for (const std::string& line : tally.lines) Print("%s", line.c_str());
  if (!bench_summary.empty()) {
    Print("benchmarks (floor = bytes streamed per token / bandwidth; nominal %.0f GB/s, measured "
          "%.0f GB/s):\n",
          f.hbm_gbps, measured_gbps);
    for (const std::string& line : bench_summary) Print("  %s", line.c_str());
  }
  for (const std::string& e : errors) Print("ERROR %s\n", e.c_str());
  const bool ok = tally.fail == 0 && errors.empty();
  Print("RESULT: %s\n", ok ? (tally.warn == 0 ? "PASS" : "PASS (with near-tie WARNs)") : "FAIL");
  if (!f.out.empty()) {
    std::ofstream file(f.out);
    file << g_log;
    if (!file) fprintf(stderr, "could not write %s\n", f.out.c_str());
  }
  return ok ? 0 : 1;
}
