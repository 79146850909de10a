#ifndef TANDEM_SAMPLING_LOGITS_PROCESSOR_H_
#define TANDEM_SAMPLING_LOGITS_PROCESSOR_H_

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "sampling/token_history.h"

namespace tandem::sampling {

// Transforms next-token logits in place. Contract:
//  * `logits` is a float32 tensor of shape [N, V] on any device (CPU or CUDA);
//    row r belongs to the sequence whose history is `histories[r]`
//    (histories.size() == N). Rows are independent.
//  * Tokens a processor excludes get -infinity. Truncating warpers (top-k,
//    top-p, ...) always keep at least one token; constraints (banned tokens,
//    n-gram bans) may exclude every token, which the selector then reports as
//    an error instead of picking an excluded token.
//  * Process is const and thread-compatible: one processor object may be used
//    from several threads at once as long as each call has its own tensor.
//  * Returns InvalidArgument on a shape mismatch; the tensor is then unspecified.
class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;

  virtual absl::Status Process(absl::Span<const TokenHistory> histories,
                               at::Tensor& logits) const = 0;

  // Short human-readable description, e.g. "top_k(50)".
  virtual std::string Name() const = 0;

  // True if the result depends on the history (penalties, n-gram bans, ...).
  // Speculative verification must then process each draft position with
  // prefix + earlier draft tokens.
  virtual bool DependsOnHistory() const { return false; }
};

// Checks the shared preconditions of Process: a 2-D float tensor with one row
// per history.
absl::Status CheckLogitsShape(absl::Span<const TokenHistory> histories,
                              const at::Tensor& logits);

// A processor that applies its members in order. It is itself a processor, so
// chains nest.
class LogitsProcessorChain : public LogitsProcessor {
 public:
  LogitsProcessorChain() = default;

  void Add(std::unique_ptr<LogitsProcessor> processor);
  size_t size() const { return processors_.size(); }
  bool empty() const { return processors_.empty(); }

  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;
  bool DependsOnHistory() const override;

 private:
  std::vector<std::unique_ptr<LogitsProcessor>> processors_;
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_LOGITS_PROCESSOR_H_
