// Converts a Hugging Face checkpoint directory to one GGUF file (tokenizer
// embedded) that llama.cpp and tandem load:
//   convert --input assets/target --output /tmp/target-q8_0.gguf --type q8_0
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tools/convert/hf_to_gguf.h"

ABSL_FLAG(std::string, input, "", "Hugging Face checkpoint directory (config.json, safetensors, "
                                  "tokenizer.model or tokenizer.json).");
ABSL_FLAG(std::string, output, "", "GGUF file to write.");
ABSL_FLAG(std::string, type, "f32", "Storage of 2-D weights: f32, f16, bf16 or q8_0.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using tandem::model::formats::GgmlType;
  tandem::tools::ConvertOptions options;
  options.input_dir = absl::GetFlag(FLAGS_input);
  options.output_path = absl::GetFlag(FLAGS_output);
  const std::string type = absl::GetFlag(FLAGS_type);
  if (options.input_dir.empty() || options.output_path.empty()) {
    std::cerr << "convert: --input DIR and --output FILE.gguf are required\n";
    return 2;
  }
  if (type == "f32") options.type = GgmlType::kF32;
  else if (type == "f16") options.type = GgmlType::kF16;
  else if (type == "bf16") options.type = GgmlType::kBF16;
  else if (type == "q8_0") options.type = GgmlType::kQ8_0;
  else {
    std::cerr << "convert: --type must be f32, f16, bf16 or q8_0 (got \"" << type << "\")\n";
    return 2;
  }
  const absl::Status s = tandem::tools::ConvertHfToGguf(options);
  if (!s.ok()) {
    std::cerr << "convert: " << s << "\n";
    return 1;
  }
  std::cout << "wrote " << options.output_path << " (" << type << ")\n";
  return 0;
}
