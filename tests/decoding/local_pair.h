#ifndef TANDEM_TESTS_DECODING_LOCAL_PAIR_H_
#define TANDEM_TESTS_DECODING_LOCAL_PAIR_H_

#include <cstdint>
#include <memory>

#include "decoding/engines.h"
#include "decoding/local_backends.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding::testing {

// A tiny random target (4 layers, early exit at 2, context 128) and a draft
// made of the target's first two layers, behind in-process backends: similar
// enough to accept often, different enough to reject often.
class LocalPair {
 public:
  explicit LocalPair(uint64_t seed = 7) {
    model::ModelConfig c = model::testing::TinyLlamaConfig();
    c.max_position_embeddings = 128;
    model::Checkpoint ck = model::testing::RandomCheckpoint(c, seed);
    target_model_ = *model::TransformerModel::Create(ck, {});
    draft_model_ = *model::TransformerModel::Create(model::testing::FirstLayers(ck, 2), {});
    target_engine_ = std::make_unique<TargetEngine>(*target_model_, 0);
    draft_engine_ = std::make_unique<DraftEngine>(*draft_model_, 0);
    target_ = std::make_unique<LocalTargetBackend>(*target_engine_);
    draft_ = std::make_unique<LocalDraftBackend>(*draft_engine_);
  }
  LocalTargetBackend& target() { return *target_; }
  LocalDraftBackend& draft() { return *draft_; }
  TargetEngine& target_engine() { return *target_engine_; }
  DraftEngine& draft_engine() { return *draft_engine_; }
  model::TransformerModel& target_model() { return *target_model_; }
  model::TransformerModel& draft_model() { return *draft_model_; }

 private:
  std::unique_ptr<model::TransformerModel> target_model_, draft_model_;
  std::unique_ptr<TargetEngine> target_engine_;
  std::unique_ptr<DraftEngine> draft_engine_;
  std::unique_ptr<LocalTargetBackend> target_;
  std::unique_ptr<LocalDraftBackend> draft_;
};

}  // namespace tandem::decoding::testing

#endif  // TANDEM_TESTS_DECODING_LOCAL_PAIR_H_
