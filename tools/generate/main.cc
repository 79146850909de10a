// generate: text from a Hugging Face checkpoint directory or a GGUF file.
//
//   bazel run //tools/generate -- --model=assets/target
//       --prompt="In the beginning" --max_new_tokens=40 --temperature=0
//   bazel run //tools/generate -- --model=/abs/model.gguf --prompt_tokens=1,2,3
//       --preset=creative --num_samples=3 --seed=7
//   bazel run //tools/generate -- --model=... --prompt=... --num_beams=4
//       --num_return_sequences=2 --length_penalty=1.0
// (one command each; the indented lines continue the one above).
//
// Text streams to stdout; one stats line per sequence goes to stderr.
// Relative paths are resolved against the directory `bazel run` was started in.

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "tools/generate/generate_lib.h"

ABSL_FLAG(std::string, model, "", "Hugging Face checkpoint directory or .gguf file");
ABSL_FLAG(std::string, tokenizer, "",
          "tokenizer.json / tokenizer.model / .gguf / directory (default: --model)");
ABSL_FLAG(std::string, prompt, "", "Prompt text (or use --prompt_tokens)");
ABSL_FLAG(std::string, prompt_tokens, "", "Prompt as comma-separated token ids, e.g. 1,2,3");
ABSL_FLAG(int64_t, max_new_tokens, 64, "Tokens to generate at most (>= 1)");
ABSL_FLAG(std::string, preset, "",
          "creative | precise | balanced | deterministic; explicit sampling flags override it");
ABSL_FLAG(std::optional<double>, temperature, std::nullopt, "Temperature >= 0 (0 = greedy)");
ABSL_FLAG(std::optional<int64_t>, top_k, std::nullopt, "Top-k >= 0 (0 = off)");
ABSL_FLAG(std::optional<double>, top_p, std::nullopt, "Top-p in (0, 1]");
ABSL_FLAG(std::optional<double>, min_p, std::nullopt, "Min-p in [0, 1]");
ABSL_FLAG(std::optional<double>, repetition_penalty, std::nullopt, "Repetition penalty > 0");
ABSL_FLAG(int, num_samples, 1, "Independent samples; sample i is seeded --seed + i");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt, "Sampling seed (default: random)");
ABSL_FLAG(int, num_beams, 1, "Beam search with this many beams when > 1");
ABSL_FLAG(double, length_penalty, 1.0, "Beam search: score = logprob / length^penalty");
ABSL_FLAG(int, num_return_sequences, 1, "Beam search: hypotheses to print, in [1, num_beams]");
ABSL_FLAG(std::string, device, "cpu", "cpu | cuda");
ABSL_FLAG(std::string, dtype, "float32", "float32 | bfloat16 | float16");
ABSL_FLAG(int, threads, 0, "CPU threads (0 = LibTorch default)");
ABSL_FLAG(int64_t, max_context, 0, "KV positions per sequence (0 = min(model context, 4096))");

namespace {

// `bazel run` starts the binary in its runfiles; resolve relative paths
// against the user's directory.
std::string ResolvePath(const std::string& path) {
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || dir == nullptr) return path;
  return std::string(dir) + "/" + path;
}

int Fail(const absl::Status& status) {
  std::cerr << "generate: " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Generates text with a Hugging Face or GGUF model.");
  absl::ParseCommandLine(argc, argv);
  using tandem::tools::GenerateOptions;

  GenerateOptions options;
  options.prompt = absl::GetFlag(FLAGS_prompt);
  if (!absl::GetFlag(FLAGS_prompt_tokens).empty()) {
    auto ids = tandem::tools::ParseTokenList(absl::GetFlag(FLAGS_prompt_tokens));
    if (!ids.ok()) return Fail(ids.status());
    options.prompt_tokens = *ids;
  }
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.sampling.preset = absl::GetFlag(FLAGS_preset);
  options.sampling.temperature = absl::GetFlag(FLAGS_temperature);
  options.sampling.top_k = absl::GetFlag(FLAGS_top_k);
  options.sampling.top_p = absl::GetFlag(FLAGS_top_p);
  options.sampling.min_p = absl::GetFlag(FLAGS_min_p);
  options.sampling.repetition_penalty = absl::GetFlag(FLAGS_repetition_penalty);
  options.num_samples = absl::GetFlag(FLAGS_num_samples);
  options.seed = absl::GetFlag(FLAGS_seed).value_or(tandem::tools::RandomSeed());
  options.num_beams = absl::GetFlag(FLAGS_num_beams);
  options.length_penalty = absl::GetFlag(FLAGS_length_penalty);
  options.num_return_sequences = absl::GetFlag(FLAGS_num_return_sequences);
  // Bad flags fail before the (slow) model load.
  if (absl::Status s = tandem::tools::ValidateGenerateOptions(options); !s.ok()) return Fail(s);

  tandem::tools::ModelLoadOptions load;
  load.model_path = ResolvePath(absl::GetFlag(FLAGS_model));
  load.tokenizer_path = ResolvePath(absl::GetFlag(FLAGS_tokenizer));
  load.device = absl::GetFlag(FLAGS_device);
  load.dtype = absl::GetFlag(FLAGS_dtype);
  load.threads = absl::GetFlag(FLAGS_threads);
  load.max_context = absl::GetFlag(FLAGS_max_context);
  auto generator = tandem::tools::TextGenerator::Load(load);
  if (!generator.ok()) return Fail(generator.status());
  auto result = (*generator)->Run(options, &std::cout, &std::cerr);
  if (!result.ok()) return Fail(result.status());
  return 0;
}
