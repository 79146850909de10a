// Token trees in one forward pass (ForwardRequest::tree_parents): every tree
// node's logits equal those of running its root-to-node path as a plain
// sequence on a fresh cache, for every family (sliding windows, soft-caps,
// q/k norms, GPT-2 learned positions) on the CPU kernels and the LibTorch
// path; KeepSlots then leaves a cache that decodes exactly like one that
// only ever saw the kept path.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::model {
namespace {

using ::testing::HasSubstr;
using testing::RandomCheckpoint;

struct Variant {
  std::string name;
  ModelConfig config;
  bool torch_ops = false;
};

std::vector<Variant> Variants() {
  std::vector<Variant> out;
  for (const testing::NamedConfig& c : testing::TinyFamilyConfigs()) {
    out.push_back({c.name + "_cpu", c.config, false});
    out.push_back({c.name + "_torch_ops", c.config, true});
  }
  return out;
}

class TreeForwardTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    TransformerOptions options;
    options.torch_ops = GetParam().torch_ops;
    auto m = TransformerModel::Create(RandomCheckpoint(GetParam().config, 91), options);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *std::move(m);
  }

  int64_t Token(int i) const { return (i * 37 + 11) % GetParam().config.vocab_size; }

  // Logits after `tokens`, run as one plain sequence on a fresh cache.
  at::Tensor Reference(const std::vector<int64_t>& tokens) {
    const SequenceId id = next_reference_++;
    absl::StatusOr<at::Tensor> out = model_->ForwardOne(id, tokens, 0, /*all_logits=*/false);
    EXPECT_TRUE(out.ok()) << out.status();
    model_->Release(id);
    return out.ok() ? out->select(0, 0) : at::Tensor();
  }

  std::unique_ptr<TransformerModel> model_;
  SequenceId next_reference_ = 1000;
};

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Depth up to 4, so the windows of 3 and 4 bind inside the tree too.
const std::vector<int32_t> kParents = {-1, -1, 0, 0, 2, 1, 4, 6, -1};

TEST_P(TreeForwardTest, EveryNodeMatchesItsPathRunAsAChain) {
  std::vector<int64_t> prompt;
  for (int i = 0; i < 6; ++i) prompt.push_back(Token(i));
  ASSERT_TRUE(model_->ForwardOne(1, prompt).ok());
  // A chain of two tokens (catch-up + pending), then the tree.
  const std::vector<int64_t> chain = {Token(40), Token(41)};
  std::vector<int64_t> nodes;
  for (size_t i = 0; i < kParents.size(); ++i) nodes.push_back(Token(50 + 3 * i));
  std::vector<int64_t> feed = chain;
  feed.insert(feed.end(), nodes.begin(), nodes.end());
  ForwardRequest request{1, feed, 0, true, kParents};
  absl::StatusOr<std::vector<at::Tensor>> out = model_->Forward({request});
  ASSERT_TRUE(out.ok()) << out.status();
  const at::Tensor& logits = (*out)[0];
  ASSERT_EQ(logits.size(0), static_cast<int64_t>(feed.size()));
  EXPECT_EQ(model_->Length(1), static_cast<int64_t>(prompt.size() + feed.size()));

  std::vector<int64_t> history = prompt;
  for (size_t j = 0; j < chain.size(); ++j) {
    history.push_back(chain[j]);
    EXPECT_LT(MaxDiff(logits[j], Reference(history)), 1e-4) << "chain row " << j;
  }
  std::vector<std::vector<int64_t>> paths;
  for (size_t i = 0; i < kParents.size(); ++i) {
    std::vector<int64_t> path = kParents[i] < 0 ? std::vector<int64_t>{} : paths[kParents[i]];
    path.push_back(nodes[i]);
    paths.push_back(path);
    std::vector<int64_t> tokens = history;
    tokens.insert(tokens.end(), path.begin(), path.end());
    EXPECT_LT(MaxDiff(logits[chain.size() + i], Reference(tokens)), 1e-4) << "tree node " << i;
  }

  // Keep the path to node 7 (nodes 0, 2, 4, 6, 7), then decode on.
  const int64_t base = static_cast<int64_t>(prompt.size() + chain.size());
  const std::vector<int64_t> slots = {base + 0, base + 2, base + 4, base + 6, base + 7};
  ASSERT_TRUE(model_->KeepSlots(1, base, slots).ok());
  EXPECT_EQ(model_->Length(1), base + 5);
  std::vector<int64_t> kept = history;
  kept.insert(kept.end(), paths[7].begin(), paths[7].end());
  for (int step = 0; step < 6; ++step) {
    const int64_t next = Token(90 + step);
    kept.push_back(next);
    absl::StatusOr<at::Tensor> decoded = model_->ForwardOne(1, {next});
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_LT(MaxDiff(decoded->select(0, 0), Reference(kept)), 1e-4) << "step " << step;
  }
}

TEST_P(TreeForwardTest, TreeRowsBesideOtherSequencesAndNoChainPart) {
  const std::vector<int64_t> a_prompt = {Token(1), Token(2), Token(3)};
  const std::vector<int64_t> b_prompt = {Token(4), Token(5), Token(6), Token(7)};
  ASSERT_TRUE(model_->ForwardOne(1, a_prompt).ok());
  ASSERT_TRUE(model_->ForwardOne(2, b_prompt).ok());
  // Sequence 1: a pure tree (two roots with a child each); sequence 2: a chain.
  const std::vector<int32_t> parents = {-1, -1, 0, 1};
  const std::vector<int64_t> tree = {Token(20), Token(21), Token(22), Token(23)};
  const std::vector<int64_t> chain = {Token(30), Token(31)};
  std::vector<ForwardRequest> batch = {{1, tree, 0, true, parents}, {2, chain, 0, true, {}}};
  absl::StatusOr<std::vector<at::Tensor>> out = model_->Forward(batch);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::vector<int64_t>> paths = {
      {tree[0]}, {tree[1]}, {tree[0], tree[2]}, {tree[1], tree[3]}};
  for (size_t i = 0; i < paths.size(); ++i) {
    std::vector<int64_t> tokens = a_prompt;
    tokens.insert(tokens.end(), paths[i].begin(), paths[i].end());
    EXPECT_LT(MaxDiff((*out)[0][i], Reference(tokens)), 1e-4) << "node " << i;
  }
  std::vector<int64_t> b = b_prompt;
  b.push_back(chain[0]);
  b.push_back(chain[1]);
  EXPECT_LT(MaxDiff((*out)[1][1], Reference(b)), 1e-4);
  // Keeping nothing rolls the tree back entirely.
  ASSERT_TRUE(model_->KeepSlots(1, 3, {}).ok());
  EXPECT_EQ(model_->Length(1), 3);
}

TEST_P(TreeForwardTest, BadTreesAreRefused) {
  ASSERT_TRUE(model_->ForwardOne(1, {Token(1), Token(2)}).ok());
  const std::vector<int64_t> tokens = {Token(3), Token(4)};
  const std::vector<int32_t> forward_parent = {-1, 1};
  absl::StatusOr<std::vector<at::Tensor>> out =
      model_->Forward({ForwardRequest{1, tokens, 0, true, forward_parent}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("tree parent of node 1"));
  const std::vector<int32_t> too_many = {-1, 0, 1};
  out = model_->Forward({ForwardRequest{1, tokens, 0, true, too_many}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> ok = {-1, -1};
  out = model_->Forward({ForwardRequest{1, tokens, 1, true, ok}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("exit_layer"));
  EXPECT_EQ(model_->Length(1), 2);

  ASSERT_TRUE(model_->Forward({ForwardRequest{1, tokens, 0, true, ok}}).ok());
  EXPECT_EQ(model_->KeepSlots(1, 2, {3, 2}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->KeepSlots(1, 2, {4}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->KeepSlots(1, 5, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->KeepSlots(7, 0, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(model_->KeepSlots(1, 2, {3}).ok());
  EXPECT_EQ(model_->Length(1), 3);
}

INSTANTIATE_TEST_SUITE_P(Families, TreeForwardTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tandem::model
