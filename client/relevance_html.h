#ifndef TANDEM_CLIENT_RELEVANCE_HTML_H_
#define TANDEM_CLIENT_RELEVANCE_HTML_H_

#include <string>

#include "client/relevance_view.h"

namespace tandem::client {

// A self-contained HTML page (inline CSS and JavaScript, nothing fetched) of
// `document`: the text, generated tokens underlined; hovering (or clicking)
// a generated token highlights its sources, red for positive and blue for
// negative scores, opacity by |score| relative to that token's largest, and
// lists them. The query `?token=N` pre-selects the generated token at
// position N when the page loads (screenshots, links). Text is escaped.
std::string RenderHtml(const RelevanceDocument& document, const std::string& title);

}  // namespace tandem::client

#endif  // TANDEM_CLIENT_RELEVANCE_HTML_H_
