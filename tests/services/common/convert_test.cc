// ModelInfo on the wire names the model family, Llama variants included.

#include "services/common/convert.h"

#include <gtest/gtest.h>

namespace tandem::services {
namespace {

TEST(ConvertTest, ModelInfoNamesTheFamily) {
  const std::vector<std::pair<model::LlamaVariant, std::string>> cases = {
      {model::LlamaVariant::kLlama, "llama"},
      {model::LlamaVariant::kMistral, "mistral"},
      {model::LlamaVariant::kQwen2, "qwen2"},
      {model::LlamaVariant::kQwen3, "qwen3"}};
  for (const auto& [variant, name] : cases) {
    model::ModelInfo info;
    info.architecture = model::Architecture::kLlama;
    info.variant = variant;
    v1::ModelInfo out;
    ToProto(info, &out);
    EXPECT_EQ(out.architecture(), name);
  }
  model::ModelInfo gpt2;
  gpt2.architecture = model::Architecture::kGpt2;
  gpt2.variant = model::LlamaVariant::kQwen3;  // Ignored: variants are Llama's.
  v1::ModelInfo out;
  ToProto(gpt2, &out);
  EXPECT_EQ(out.architecture(), "gpt2");
}

}  // namespace
}  // namespace tandem::services
