// Model runtime benchmark (issue 3, section 6): single-sequence decode speed,
// the cost of scoring k+1 tokens in one pass, KV bytes per token and the
// memory-bandwidth floor, for random-weight Llamas (~10M, ~100M parameters)
// and the shipped demo pair (assets/target, assets/draft), in float32 and
// bfloat16 on CPU at 1 and 2 threads.
//
//   bazel run -c opt //bench/model:model_bench --
//       --models=10m,100m,assets/target,assets/draft --dtypes=f32,bf16
//       --threads=2,1 --reps=5 --json_out=/tmp/model_bench.jsonl
//   (one command line)
//
// Random-weight models are written once to --work_dir/<preset>/ (hf/ with
// float32 safetensors, plus model.f32.gguf / model.f16.gguf / model.bf16.gguf
// with the same weights for bench/model/llama_cpp_bench.mjs). Relative model
// paths resolve against the workspace (BUILD_WORKSPACE_DIRECTORY) under
// `bazel run`.
//
// Every number is the median over --reps repetitions (the machines are small
// and shared); "min" columns give the best repetition.
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <c10/core/InferenceMode.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "model/formats/checkpoint_loader.h"
#include "model/formats/dtype.h"
#include "model/formats/gguf_types.h"
#include "model/transformer_model.h"
#include "model/formats/tensor_layout.h"
#include "tools/make_tiny_model/tiny_model.h"
#include "tools/make_tiny_model/tiny_vocab.h"

ABSL_FLAG(std::string, models, "10m,100m,assets/target,assets/draft",
          "Comma list: presets 10m / 100m (random-weight Llamas, generated), or "
          "checkpoint paths (HF dir or GGUF).");
ABSL_FLAG(std::string, dtypes, "f32,bf16", "Comma list of f32, bf16, f16.");
ABSL_FLAG(std::string, threads, "2,1", "Comma list of intra-op thread counts.");
ABSL_FLAG(std::string, work_dir, "/tmp/tandem_model_bench",
          "Where the random-weight presets are written (reused if present).");
ABSL_FLAG(int, prefill, 64, "Prompt tokens before decoding.");
ABSL_FLAG(int, decode_tokens, 32, "Timed 1-token forwards per repetition.");
ABSL_FLAG(int, max_k, 8, "Verify cost is measured for k+1 = 1..max_k+1 tokens.");
ABSL_FLAG(int, reps, 5, "Repetitions; medians are reported.");
ABSL_FLAG(double, bandwidth_gbs, 0,
          "Memory read bandwidth for the floor (GB/s); 0 = measure it at each thread count "
          "(512 MiB on 2 MiB pages, best of 5 reads).");
ABSL_FLAG(bool, inference_mode, false,
          "Run forwards under c10::InferenceMode (the servers do not).");
ABSL_FLAG(bool, count_ops, true, "Count ATen ops of one decode step.");
ABSL_FLAG(bool, skip_verify, false, "Skip the k+1 verify-cost sweep.");
ABSL_FLAG(std::string, json_out, "", "Append one JSON object per result line here.");
ABSL_FLAG(bool, write_only, false,
          "Only write the preset models and the GGUF copies of checkpoint paths, then exit.");

namespace {

using tandem::model::Checkpoint;
using tandem::model::TransformerModel;
using tandem::model::TransformerOptions;
using Clock = std::chrono::steady_clock;

#define BENCH_CHECK_OK(expr)                                   \
  do {                                                         \
    absl::Status _s = (expr);                                  \
    if (!_s.ok()) {                                            \
      std::cerr << #expr << ": " << _s << "\n";                \
      std::exit(1);                                            \
    }                                                          \
  } while (0)

// Random-weight Llama presets. Parameter counts: see the doc.
bool PresetOptions(const std::string& name, tandem::tools::TinyModelOptions* o) {
  if (name == "10m") {
    // 8 x 0.79M layer params + 2 x 2.05M (untied embedding / LM head) = 10.4M.
    o->vocab_size = 8000;
    o->hidden_size = 256;
    o->intermediate_size = 688;
    o->num_layers = 8;
    o->num_heads = 4;
    o->num_kv_heads = 4;
    o->tie_word_embeddings = false;
  } else if (name == "100m") {
    // 12 x 7.08M layer params + 24.6M tied embedding/LM head = 109.5M.
    o->vocab_size = 32000;
    o->hidden_size = 768;
    o->intermediate_size = 2048;
    o->num_layers = 12;
    o->num_heads = 12;
    o->num_kv_heads = 12;
    o->tie_word_embeddings = true;
  } else {
    return false;
  }
  o->context_length = 512;
  o->seed = 7;
  return true;
}

// Writes `ckpt` (a checkpoint directory such as assets/target) as
// <work_dir>/<name>/model.{f32,f16,bf16}.gguf for llama_cpp_bench.mjs: the
// same weights and token ids (a synthetic vocabulary of the same size stands
// in for the tokenizer, which the benchmarks do not use). Once per name.
void EnsureGgufCopy(const std::string& path, const Checkpoint& ckpt) {
  namespace fs = std::filesystem;
  const std::string dir =
      absl::GetFlag(FLAGS_work_dir) + "/" + fs::path(path).filename().string();
  const std::string done = dir + "/.complete";
  if (fs::exists(done)) return;
  std::cerr << "writing GGUF copies of " << path << " to " << dir << " ...\n";
  fs::create_directories(dir);
  tandem::tools::TinyModel m;
  m.config = ckpt.config;
  absl::StatusOr<tandem::tools::TinyVocab> vocab =
      tandem::tools::MakeSyntheticVocab(ckpt.config.architecture, ckpt.config.vocab_size);
  BENCH_CHECK_OK(vocab.status());
  m.vocab = *std::move(vocab);
  for (const auto& e : tandem::model::formats::ExpectedTensors(ckpt.config)) {
    at::Tensor t = ckpt.tensors.at(e.name).to(at::kFloat).contiguous();
    m.weights.push_back({e.name, e.shape,
                         std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())});
  }
  using tandem::model::formats::GgmlType;
  BENCH_CHECK_OK(tandem::tools::WriteTinyGguf(m, GgmlType::kF32, dir + "/model.f32.gguf"));
  BENCH_CHECK_OK(tandem::tools::WriteTinyGguf(m, GgmlType::kF16, dir + "/model.f16.gguf"));
  BENCH_CHECK_OK(tandem::tools::WriteTinyGguf(m, GgmlType::kBF16, dir + "/model.bf16.gguf"));
  std::ofstream(done) << "ok\n";
}

// Writes (once) the preset's HF dir + f32/f16/bf16 GGUFs; returns the HF dir.
std::string EnsurePreset(const std::string& name, const tandem::tools::TinyModelOptions& o) {
  namespace fs = std::filesystem;
  const std::string dir = absl::GetFlag(FLAGS_work_dir) + "/" + name;
  const std::string done = dir + "/.complete";
  if (fs::exists(done)) return dir + "/hf";
  std::cerr << "writing random-weight preset " << name << " to " << dir << " ...\n";
  fs::create_directories(dir);
  absl::StatusOr<tandem::tools::TinyModel> m = tandem::tools::MakeTinyModel(o);
  BENCH_CHECK_OK(m.status());
  using tandem::model::formats::GgmlType;
  BENCH_CHECK_OK(tandem::tools::WriteTinyHfDir(*m, tandem::model::formats::DType::kF32, 1,
                                               dir + "/hf"));
  BENCH_CHECK_OK(tandem::tools::WriteTinyGguf(*m, GgmlType::kF32, dir + "/model.f32.gguf"));
  BENCH_CHECK_OK(tandem::tools::WriteTinyGguf(*m, GgmlType::kF16, dir + "/model.f16.gguf"));
  BENCH_CHECK_OK(tandem::tools::WriteTinyGguf(*m, GgmlType::kBF16, dir + "/model.bf16.gguf"));
  std::ofstream(done) << "ok\n";
  return dir + "/hf";
}

std::string ResolvePath(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  return ws != nullptr ? absl::StrCat(ws, "/", p) : p;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Counts the ATen ops dispatched on this thread: all of them (including the
// ones nested inside others, e.g. linear -> matmul -> mm) and top-level ones.
struct OpCounter {
  static thread_local int depth;
  static thread_local int64_t all;
  static thread_local int64_t top;
  static thread_local std::map<std::string, int64_t>* names;
};
thread_local int OpCounter::depth = 0;
thread_local int64_t OpCounter::all = 0;
thread_local int64_t OpCounter::top = 0;
thread_local std::map<std::string, int64_t>* OpCounter::names = nullptr;

struct Result {
  std::string model, dtype;
  int threads = 0;
  int64_t params = 0, param_bytes = 0, streamed_bytes = 0, kv_bytes_per_token = 0;
  double decode_ms = 0, decode_min_ms = 0, floor_ms = 0, bandwidth_gbs = 0;
  std::vector<double> verify_ms;  // k+1 = 1..
  int64_t ops_all = 0, ops_top = 0, layers = 0;
};

at::ScalarType ParseDtype(const std::string& s) {
  if (s == "f32") return at::kFloat;
  if (s == "bf16") return at::kBFloat16;
  if (s == "f16") return at::kHalf;
  std::cerr << "bad dtype " << s << "\n";
  std::exit(2);
}

// Sum of words [b, e) read with 512-bit loads where the CPU has them (the
// decoder's kernels read weights that way), else plain loads.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) uint64_t SumAvx512(const uint64_t* w, int64_t b, int64_t e) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = b;
  for (; i + 32 <= e; i += 32) {
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(w + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(w + i + 8));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(w + i + 16));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(w + i + 24));
  }
  uint64_t acc = _mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  for (; i < e; ++i) acc += w[i];
  return acc;
}
#endif

uint64_t SumWords(const uint64_t* w, int64_t b, int64_t e) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f")) return SumAvx512(w, b, e);
#endif
  uint64_t acc = 0;
  for (int64_t i = b; i < e; ++i) acc += w[i];
  return acc;
}

// Best-of-5 read bandwidth of a 512 MiB buffer (larger than any cache) on
// `threads` ATen threads, in GB/s.
double MeasureReadBandwidth(int threads) {
  static std::map<int, double> measured;
  if (measured.count(threads)) return measured[threads];
  at::set_num_threads(threads);
  constexpr size_t kBytes = size_t{512} << 20, kHuge = size_t{2} << 20;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, kBytes) != 0) return 33.0;
  madvise(p, kBytes, MADV_HUGEPAGE);
  uint64_t* words = static_cast<uint64_t*>(p);
  const int64_t n = kBytes / sizeof(uint64_t);
  for (int64_t i = 0; i < n; ++i) words[i] = i;
  double best = 1e30;
  std::atomic<uint64_t> sink{0};
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = Clock::now();
    at::parallel_for(0, n, n / 64, [&](int64_t b, int64_t e) { sink += SumWords(words, b, e); });
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::free(p);
  return measured[threads] = kBytes / best / 1e9;
}

Result Run(const std::string& label, const Checkpoint& ckpt, const std::string& dtype_name,
           int threads) {
  at::set_num_threads(threads);
  TransformerOptions opts;
  opts.dtype = ParseDtype(dtype_name);
  const int prefill = absl::GetFlag(FLAGS_prefill);
  const int n = absl::GetFlag(FLAGS_decode_tokens);
  const int max_k1 = absl::GetFlag(FLAGS_max_k) + 1;
  const int reps = absl::GetFlag(FLAGS_reps);
  opts.max_context = std::max<int64_t>(512, prefill + n + max_k1 + 16);
  absl::StatusOr<std::unique_ptr<TransformerModel>> created =
      TransformerModel::Create(ckpt, opts);
  BENCH_CHECK_OK(created.status());
  TransformerModel& model = **created;
  const auto& info = model.info();
  const auto& cfg = model.config();

  Result r;
  r.model = label;
  r.dtype = dtype_name;
  r.threads = threads;
  r.layers = info.num_layers;
  r.params = info.parameter_count;
  const int64_t elem = at::elementSize(opts.dtype);
  r.param_bytes = r.params * elem;
  // Bytes streamed per decoded token: every weight except an untied
  // embedding table (only one row of it is read).
  const bool tied = cfg.tie_word_embeddings ||
                    ckpt.tensors.find("lm_head.weight") == ckpt.tensors.end();
  r.streamed_bytes =
      (r.params - (tied ? 0 : cfg.vocab_size * cfg.hidden_size)) * elem;
  r.kv_bytes_per_token = info.kv_bytes_per_token;
  r.bandwidth_gbs = absl::GetFlag(FLAGS_bandwidth_gbs) > 0 ? absl::GetFlag(FLAGS_bandwidth_gbs)
                                                          : MeasureReadBandwidth(threads);
  at::set_num_threads(threads);
  r.floor_ms = r.streamed_bytes / (r.bandwidth_gbs * 1e9) * 1e3;

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> dist(3, info.vocab_size - 1);
  std::vector<int64_t> prompt(prefill), gen(n + 8), verify(max_k1);
  for (auto& t : prompt) t = dist(rng);
  for (auto& t : gen) t = dist(rng);
  for (auto& t : verify) t = dist(rng);

  std::unique_ptr<c10::InferenceMode> guard;
  if (absl::GetFlag(FLAGS_inference_mode)) guard = std::make_unique<c10::InferenceMode>();

  auto forward = [&](uint64_t seq, absl::Span<const int64_t> toks, bool all) {
    absl::StatusOr<at::Tensor> out = model.ForwardOne(seq, toks, 0, all);
    BENCH_CHECK_OK(out.status());
  };

  // Decode: per repetition a fresh sequence, prefill, 4 warm-up tokens, then
  // n timed 1-token forwards.
  std::vector<double> per_rep;
  for (int rep = 0; rep < reps; ++rep) {
    const uint64_t seq = 1;
    model.Release(seq);
    forward(seq, prompt, false);
    for (int i = 0; i < 4; ++i) forward(seq, absl::MakeConstSpan(&gen[i], 1), true);
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) forward(seq, absl::MakeConstSpan(&gen[4 + i], 1), true);
    per_rep.push_back(MsSince(t0) / n);
  }
  r.decode_ms = Median(per_rep);
  r.decode_min_ms = Min(per_rep);

  // Verify cost: after the prompt, score k+1 tokens in one pass (all logits,
  // as verification needs), then roll back. k values are interleaved within
  // each repetition so that background load hits them alike.
  if (!absl::GetFlag(FLAGS_skip_verify)) {
    const uint64_t seq = 2;
    model.Release(seq);
    forward(seq, prompt, false);
    std::vector<std::vector<double>> times(max_k1);
    for (int rep = 0; rep < reps + 1; ++rep) {
      for (int k1 = 1; k1 <= max_k1; ++k1) {
        const auto t0 = Clock::now();
        forward(seq, absl::MakeConstSpan(verify.data(), k1), true);
        const double ms = MsSince(t0);
        BENCH_CHECK_OK(model.Truncate(seq, prefill));
        if (rep > 0) times[k1 - 1].push_back(ms);  // rep 0 warms up.
      }
    }
    for (auto& t : times) r.verify_ms.push_back(Median(t));
  }

  if (absl::GetFlag(FLAGS_count_ops)) {
    const uint64_t seq = 3;
    model.Release(seq);
    forward(seq, prompt, false);
    std::map<std::string, int64_t> names;
    OpCounter::all = OpCounter::top = 0;
    OpCounter::depth = 0;
    OpCounter::names = &names;
    at::CallbackHandle handle = at::addThreadLocalCallback(
        at::RecordFunctionCallback(
            [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
              if (OpCounter::depth == 0) {
                ++OpCounter::top;
                if (OpCounter::names) ++(*OpCounter::names)[fn.name()];
              }
              ++OpCounter::all;
              ++OpCounter::depth;
              return nullptr;
            },
            [](const at::RecordFunction&, at::ObserverContext*) { --OpCounter::depth; })
            .scopes({at::RecordScope::FUNCTION}));
    forward(seq, absl::MakeConstSpan(&gen[0], 1), true);
    at::removeCallback(handle);
    OpCounter::names = nullptr;
    r.ops_all = OpCounter::all;
    r.ops_top = OpCounter::top;
    static bool printed = false;
    if (!printed) {
      printed = true;
      std::cerr << "top-level ATen ops of one decode step (" << label << ", " << dtype_name
                << "):";
      for (const auto& [name, count] : names) std::cerr << " " << name << "=" << count;
      std::cerr << "\n";
    }
  }
  return r;
}

std::string Json(const Result& r) {
  std::ostringstream o;
  o << std::setprecision(6) << "{\"model\":\"" << r.model << "\",\"dtype\":\"" << r.dtype
    << "\",\"threads\":" << r.threads << ",\"inference_mode\":"
    << (absl::GetFlag(FLAGS_inference_mode) ? "true" : "false") << ",\"params\":" << r.params
    << ",\"param_bytes\":" << r.param_bytes << ",\"streamed_bytes\":" << r.streamed_bytes
    << ",\"kv_bytes_per_token\":" << r.kv_bytes_per_token << ",\"decode_ms\":" << r.decode_ms
    << ",\"decode_min_ms\":" << r.decode_min_ms << ",\"floor_ms\":" << r.floor_ms
    << ",\"bandwidth_gbs\":" << r.bandwidth_gbs
    << ",\"ops_all\":" << r.ops_all << ",\"ops_top\":" << r.ops_top
    << ",\"layers\":" << r.layers << ",\"verify_ms\":[";
  for (size_t i = 0; i < r.verify_ms.size(); ++i) o << (i ? "," : "") << r.verify_ms[i];
  o << "]}";
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<std::string> dtypes = absl::StrSplit(absl::GetFlag(FLAGS_dtypes), ',');
  std::vector<int> threads;
  for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
    threads.push_back(std::stoi(std::string(t)));
  }
  std::ofstream json;
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    json.open(absl::GetFlag(FLAGS_json_out), std::ios::app);
  }
  std::cout << "# " << at::get_parallel_info() << "\n";
  std::cout << "| model | dtype | thr | params | weight MB | KV B/token | decode ms/tok | "
               "min | tok/s | read GB/s | floor ms | ms / floor | ops/tok (top/all) | verify t(k+1)/t(1), "
               "k+1=1.." << absl::GetFlag(FLAGS_max_k) + 1 << " |\n";
  std::cout << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::vector<std::string> models = absl::StrSplit(absl::GetFlag(FLAGS_models), ',');
  for (const std::string& name : models) {
    tandem::tools::TinyModelOptions o;
    std::string path;
    const bool preset = PresetOptions(name, &o);
    if (preset) {
      path = EnsurePreset(name, o);
    } else {
      path = ResolvePath(name);
    }
    if (absl::GetFlag(FLAGS_write_only) && preset) continue;
    absl::StatusOr<Checkpoint> ckpt = tandem::model::LoadCheckpoint(path);
    BENCH_CHECK_OK(ckpt.status());
    if (!preset && !absl::EndsWith(path, ".gguf")) EnsureGgufCopy(path, *ckpt);
    if (absl::GetFlag(FLAGS_write_only)) continue;
    for (const std::string& dtype : dtypes) {
      for (int t : threads) {
        Result r = Run(name, *ckpt, dtype, t);
        std::string ratios;
        for (size_t i = 0; i < r.verify_ms.size(); ++i) {
          absl::StrAppend(&ratios, i ? " " : "",
                          absl::StrFormat("%.2f", r.verify_ms[i] / r.verify_ms[0]));
        }
        std::cout << absl::StrFormat(
                         "| %s | %s | %d | %.1fM | %.1f | %d | %.2f | %.2f | %.0f | %.1f | %.2f | "
                         "%.2fx | %d/%d | %s |",
                         r.model, r.dtype, r.threads, r.params / 1e6, r.param_bytes / 1e6,
                         r.kv_bytes_per_token, r.decode_ms, r.decode_min_ms,
                         1e3 / r.decode_ms, r.bandwidth_gbs, r.floor_ms, r.decode_ms / r.floor_ms, r.ops_top,
                         r.ops_all, ratios)
                  << std::endl;
        if (json.is_open()) json << Json(r) << "\n" << std::flush;
      }
    }
  }
  return 0;
}
