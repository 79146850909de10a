#ifndef TANDEM_CLIENT_RELEVANCE_VIEW_H_
#define TANDEM_CLIENT_RELEVANCE_VIEW_H_

// What `tandem generate --relevance` shows: one returned sequence's tokens
// with, per generated token, its most relevant earlier positions
// (OutputOptions.relevance), rendered as a terminal heatmap.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/tandem/v1/generation_service.pb.h"

namespace tandem::client {

struct RelevanceSource {
  int64_t position = 0;
  double score = 0;
};

// Prompt + generated tokens of one sequence; sources[i] belongs to the
// generated token at position first_generated + i, by decreasing |score|.
struct RelevanceDocument {
  std::vector<std::string> pieces;  // Per position, printable (DisplayPiece).
  int64_t first_generated = 0;
  std::vector<std::vector<RelevanceSource>> sources;
};

// A token's bytes as valid, printable UTF-8: newlines and tabs as \n and
// \t, other control bytes and invalid UTF-8 as U+FFFD.
std::string DisplayPiece(const std::string& bytes);

// The document of a sequence returned with relevance (prompt_tokens and
// every token's relevance set; `relevance` overrides the tokens' own, as
// GenerateStream's SequenceEnd carries it). InvalidArgument when a token
// has no relevance or a source is outside [0, its position).
absl::StatusOr<RelevanceDocument> DocumentOf(
    const google::protobuf::RepeatedPtrField<v1::GeneratedToken>& prompt_tokens,
    const google::protobuf::RepeatedPtrField<v1::GeneratedToken>& tokens,
    const google::protobuf::RepeatedPtrField<v1::TokenRelevance>& relevance = {});

struct TerminalViewOptions {
  // ANSI 256-colour backgrounds (red: positive, blue: negative; darker =
  // larger |score| relative to the token's largest); otherwise plain text
  // with a bar of '#' per source.
  bool color = true;
  int max_sources = 5;  // Per generated token.
};

// The text (prompt, then generated tokens underlined when coloured), then
// one line per generated token: `[position] piece <- sources`, each source
// as `[position] piece score`.
std::string RenderTerminal(const RelevanceDocument& document, const TerminalViewOptions& options);

// 0 .. levels - 1: |score| relative to `largest` (> 0), rounded up so that
// any non-zero score is visible.
int IntensityLevel(double score, double largest, int levels);

}  // namespace tandem::client

#endif  // TANDEM_CLIENT_RELEVANCE_VIEW_H_
