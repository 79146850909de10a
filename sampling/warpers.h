#ifndef TANDEM_SAMPLING_WARPERS_H_
#define TANDEM_SAMPLING_WARPERS_H_

// History-independent processors that reshape or truncate the distribution.
// Each Create() validates its parameter and returns InvalidArgument naming it
// and its allowed range. Semantics follow Hugging Face transformers' warpers.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sampling/logits_processor.h"

namespace tandem::sampling {

// logits / temperature. temperature must be finite and > 0 (0 means greedy
// selection and is handled by the selector, not by this processor).
class TemperatureProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<TemperatureProcessor>> Create(
      double temperature);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit TemperatureProcessor(double t) : temperature_(t) {}
  double temperature_;
};

// Keeps the k highest logits (ties with the k-th value are kept). k >= 1;
// k >= vocab keeps everything.
class TopKProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<TopKProcessor>> Create(int64_t k);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit TopKProcessor(int64_t k) : k_(k) {}
  int64_t k_;
};

// Nucleus: keeps the smallest set of most probable tokens whose probability
// mass reaches p (always at least one token). p in (0, 1].
class TopPProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<TopPProcessor>> Create(double p);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit TopPProcessor(double p) : p_(p) {}
  double p_;
};

// Keeps tokens whose probability is >= min_p * (max probability).
// min_p in [0, 1].
class MinPProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<MinPProcessor>> Create(double min_p);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit MinPProcessor(double min_p) : min_p_(min_p) {}
  double min_p_;
};

// Locally typical sampling (Meister et al.): ranks tokens by |-log p - H| and
// keeps the smallest such prefix whose mass reaches typical_p (at least one
// token). typical_p in (0, 1].
class TypicalPProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<TypicalPProcessor>> Create(double p);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit TypicalPProcessor(double p) : p_(p) {}
  double p_;
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_WARPERS_H_
