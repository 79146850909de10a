#include "services/common/model_server_options.h"

#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/formats/checkpoint_loader.h"
#include "model/transformer_model.h"
#include "tokenizer/load_tokenizer.h"

namespace tandem::services {

absl::StatusOr<std::unique_ptr<model::Model>> LoadModel(
    const ModelServerOptions& options) {
  model::TransformerOptions t;
  if (options.dtype == "float32") {
    t.dtype = at::kFloat;
  } else if (options.dtype == "bfloat16") {
    t.dtype = at::kBFloat16;
  } else if (options.dtype == "float16") {
    t.dtype = at::kHalf;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dtype must be float32, bfloat16 or float16, got \"", options.dtype, "\""));
  }
  try {
    t.device = at::Device(options.device);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device \"", options.device, "\" is not a device: ",
                     e.what_without_backtrace()));
  }
  if (t.device.is_cuda() && !at::hasCUDA()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device ", options.device,
        " needs a CUDA-enabled LibTorch (see docs/build.md, TANDEM_LIBTORCH)"));
  }
  t.max_context = options.max_context;
  t.kv_budget_bytes = options.kv_budget_bytes;
  // Sessions, their forks in flight, and the prefix cache's kept sequences.
  t.max_sequences =
      options.max_sessions > 0 ? options.max_sessions + 8 + options.prefix_cache_entries : 0;
  absl::StatusOr<model::Checkpoint> checkpoint =
      model::LoadCheckpoint(options.model_path);
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<std::unique_ptr<model::TransformerModel>> m =
      model::TransformerModel::Create(*checkpoint, t);
  if (!m.ok()) {
    return absl::Status(m.status().code(), absl::StrCat(options.model_path, ": ",
                                                        m.status().message()));
  }
  return std::unique_ptr<model::Model>(std::move(*m));
}

absl::StatusOr<int64_t> ParseKvBudget(const std::string& text, int64_t physical_ram_bytes) {
  if (text.empty()) return 0;
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--kv_budget must be bytes (e.g. 536870912, 512MiB, 2G) or a fraction in (0, 1) of "
        "RAM (e.g. 0.25), got \"", text, "\""));
  };
  if (text.find('.') != std::string::npos) {
    double fraction = 0;
    if (!absl::SimpleAtod(text, &fraction) || !(fraction > 0 && fraction < 1)) return bad();
    return static_cast<int64_t>(fraction * static_cast<double>(physical_ram_bytes));
  }
  static const std::pair<const char*, int64_t> kSuffixes[] = {
      {"KiB", int64_t{1} << 10}, {"MiB", int64_t{1} << 20}, {"GiB", int64_t{1} << 30},
      {"K", 1000}, {"M", 1000 * 1000}, {"G", 1000 * 1000 * 1000}};
  std::string digits = text;
  int64_t unit = 1;
  for (const auto& [suffix, scale] : kSuffixes) {
    if (absl::EndsWith(text, suffix)) {
      digits = text.substr(0, text.size() - std::string(suffix).size());
      unit = scale;
      break;
    }
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value) || value < 1 ||
      value > std::numeric_limits<int64_t>::max() / unit) {
    return bad();
  }
  return value * unit;
}

std::string TokenizerIdentityOf(const std::string& model_path) {
  auto tokenizer = tokenizer::LoadTokenizer(model_path);
  return tokenizer.ok() ? (*tokenizer)->identity() : "";
}

}  // namespace tandem::services
