#include "sampling/logits_processor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tandem::sampling {

absl::Status CheckLogitsShape(absl::Span<const TokenHistory> histories,
                              const at::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2) {
    return absl::InvalidArgumentError(
        "logits must be a 2-D [rows, vocab] tensor");
  }
  if (logits.scalar_type() != at::kFloat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "logits must be float32, found ", c10::toString(logits.scalar_type())));
  }
  if (logits.size(0) != static_cast<int64_t>(histories.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits has ", logits.size(0), " rows but ",
                     histories.size(), " histories were given"));
  }
  if (logits.size(1) == 0) {
    return absl::InvalidArgumentError("logits has an empty vocabulary");
  }
  return absl::OkStatus();
}

void LogitsProcessorChain::Add(std::unique_ptr<LogitsProcessor> processor) {
  processors_.push_back(std::move(processor));
}

absl::Status LogitsProcessorChain::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  for (const auto& processor : processors_) {
    if (absl::Status s = processor->Process(histories, logits); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string LogitsProcessorChain::Name() const {
  std::vector<std::string> names;
  names.reserve(processors_.size());
  for (const auto& p : processors_) names.push_back(p->Name());
  return absl::StrCat("chain[", absl::StrJoin(names, ", "), "]");
}

bool LogitsProcessorChain::DependsOnHistory() const {
  for (const auto& p : processors_) {
    if (p->DependsOnHistory()) return true;
  }
  return false;
}

}  // namespace tandem::sampling
