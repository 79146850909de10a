#ifndef TANDEM_MODEL_CHECKPOINT_H_
#define TANDEM_MODEL_CHECKPOINT_H_

#include <map>
#include <string>

#include <ATen/ATen.h>

#include "model/model_config.h"

namespace tandem::model {

// A loaded checkpoint, independent of its file format: the config and every
// weight under its Hugging Face name and in Hugging Face's layout, e.g.
//   Llama: model.embed_tokens.weight [V, H], model.layers.{i}.self_attn.q_proj.weight
//          [heads*head_dim, H] (HF rotate-half RoPE layout), ..., model.norm.weight,
//          lm_head.weight (absent when tied).
//   GPT-2: transformer.wte.weight [V, H], transformer.wpe.weight [ctx, H],
//          transformer.h.{i}.attn.c_attn.weight [H, 3H] (Conv1D: in x out), ...,
//          transformer.ln_f.{weight,bias}.
// Loaders convert other formats (GGUF names, llama.cpp's permuted Q/K rows,
// quantized blocks) into this form, so the model code sees one layout.
// RMSNorm weights are multipliers: Gemma's Hugging Face offsets (the norm
// multiplies by 1 + w) arrive with 1 added, in float32, as llama.cpp's GGUF
// stores them.
// Tensors are on the CPU, contiguous, in the stored float dtype (float32,
// float16 or bfloat16; quantized types are dequantized to float32).
struct Checkpoint {
  ModelConfig config;
  std::map<std::string, at::Tensor> tensors;
};

}  // namespace tandem::model

#endif  // TANDEM_MODEL_CHECKPOINT_H_
