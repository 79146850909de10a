#include "services/common/model_server_options.h"

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
  t.max_sequences = options.max_sessions > 0 ? options.max_sessions + 8 : 0;
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

std::string TokenizerIdentityOf(const std::string& model_path) {
  auto tokenizer = tokenizer::LoadTokenizer(model_path);
  return tokenizer.ok() ? (*tokenizer)->identity() : "";
}

}  // namespace tandem::services
