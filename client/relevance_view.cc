#include "client/relevance_view.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tandem::client {
namespace {

// Background colours, palest first (xterm 256-colour cube).
constexpr int kPositive[] = {224, 217, 210, 203, 196};
constexpr int kNegative[] = {189, 153, 111, 69, 27};
constexpr int kLevels = 5;

// Length of the UTF-8 sequence starting at s[i], or 0 when invalid.
size_t Utf8Length(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  }
  return n;
}

double Largest(const std::vector<RelevanceSource>& sources) {
  double largest = 0;
  for (const RelevanceSource& s : sources) largest = std::max(largest, std::abs(s.score));
  return largest;
}

std::string Source(const RelevanceDocument& d, const RelevanceSource& s, double largest,
                   bool color) {
  const std::string label = absl::StrFormat("[%d] %s %+.3g", s.position, d.pieces[s.position],
                                            s.score);
  const int level = IntensityLevel(s.score, largest, kLevels);
  if (!color) return absl::StrCat(label, " ", std::string(level + 1, '#'));
  const int background = s.score >= 0 ? kPositive[level] : kNegative[level];
  const int foreground = level >= 3 ? 231 : 16;  // White on dark, black on pale.
  return absl::StrCat("\x1b[48;5;", background, ";38;5;", foreground, "m", label, "\x1b[0m");
}

}  // namespace

std::string DisplayPiece(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = Utf8Length(bytes, i);
    const unsigned char c = bytes[i];
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (n == 1 && (c < 0x20 || c == 0x7F)) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes, i, n);
      i += n;
    }
  }
  return out;
}

int IntensityLevel(double score, double largest, int levels) {
  if (largest <= 0) return 0;
  const double share = std::min(1.0, std::abs(score) / largest);
  return std::clamp(static_cast<int>(std::ceil(share * levels)) - 1, 0, levels - 1);
}

absl::StatusOr<RelevanceDocument> DocumentOf(
    const google::protobuf::RepeatedPtrField<v1::GeneratedToken>& prompt_tokens,
    const google::protobuf::RepeatedPtrField<v1::GeneratedToken>& tokens,
    const google::protobuf::RepeatedPtrField<v1::TokenRelevance>& relevance) {
  RelevanceDocument d;
  for (const v1::GeneratedToken& t : prompt_tokens) d.pieces.push_back(DisplayPiece(t.piece()));
  d.first_generated = static_cast<int64_t>(d.pieces.size());
  for (int i = 0; i < tokens.size(); ++i) {
    const v1::TokenRelevance& r = relevance.empty() ? tokens[i].relevance()
                                  : i < relevance.size() ? relevance[i]
                                                         : v1::TokenRelevance::default_instance();
    const int64_t position = static_cast<int64_t>(d.pieces.size());
    if (r.position() != position) {
      return absl::InvalidArgumentError(absl::StrCat(
          "generated token ", i, " has relevance for position ", r.position(), ", not ", position));
    }
    std::vector<RelevanceSource> sources;
    for (const v1::ScoredPosition& p : r.top()) {
      if (p.position() >= position) {
        return absl::InvalidArgumentError(absl::StrCat("token at ", position, " has source ",
                                                       p.position(), " that is not before it"));
      }
      sources.push_back({p.position(), p.score()});
    }
    d.sources.push_back(std::move(sources));
    d.pieces.push_back(DisplayPiece(tokens[i].piece()));
  }
  return d;
}

std::string RenderTerminal(const RelevanceDocument& d, const TerminalViewOptions& options) {
  std::string out;
  for (int64_t p = 0; p < static_cast<int64_t>(d.pieces.size()); ++p) {
    const bool generated = p >= d.first_generated;
    if (generated && options.color) {
      absl::StrAppend(&out, "\x1b[4m", d.pieces[p], "\x1b[0m");
    } else {
      out += d.pieces[p];
    }
  }
  out += "\n\nrelevance: the most relevant earlier tokens of each generated token\n";
  for (size_t i = 0; i < d.sources.size(); ++i) {
    const int64_t position = d.first_generated + static_cast<int64_t>(i);
    absl::StrAppend(&out, absl::StrFormat("[%d] %s <-", position, d.pieces[position]));
    const double largest = Largest(d.sources[i]);
    const size_t n = std::min<size_t>(d.sources[i].size(), std::max(0, options.max_sources));
    for (size_t k = 0; k < n; ++k) {
      absl::StrAppend(&out, "  ", Source(d, d.sources[i][k], largest, options.color));
    }
    out += "\n";
  }
  return out;
}

}  // namespace tandem::client
