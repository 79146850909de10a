#include "client/relevance_html.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tandem::client {
namespace {

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr char kStyle[] = R"(
body { font: 18px/1.9 "DejaVu Sans", sans-serif; margin: 24px; background: #fff; color: #111; }
#text { white-space: pre-wrap; max-width: 60em; }
.tok { border-radius: 3px; padding: 1px 0; }
.gen { border-bottom: 2px solid #888; cursor: pointer; }
.sel { outline: 3px solid #000; }
#panel { margin-top: 16px; font-size: 15px; color: #333; min-height: 3em; }
.legend span { padding: 0 6px; margin-right: 8px; }
)";

// Sources are a JSON array per position (empty for prompt positions).
constexpr char kScript[] = R"(
function clearMarks() {
  for (const el of document.querySelectorAll('.tok')) {
    el.style.background = ''; el.classList.remove('sel');
  }
}
function select(position) {
  const sources = SOURCES[position];
  if (!sources || !sources.length) return;
  clearMarks();
  const largest = Math.max(...sources.map(s => Math.abs(s[1]))) || 1;
  const rows = [];
  for (const [p, score] of sources) {
    const a = Math.min(1, Math.abs(score) / largest);
    const el = document.getElementById('t' + p);
    el.style.background = score >= 0 ? `rgba(220,0,0,${a})` : `rgba(0,70,230,${a})`;
    rows.push(`[${p}] ${el.textContent} ${score.toFixed(3)}`);
  }
  document.getElementById('t' + position).classList.add('sel');
  document.getElementById('panel').textContent =
      `[${position}] ${document.getElementById('t' + position).textContent} <- ` + rows.join('   ');
}
for (const el of document.querySelectorAll('.gen')) {
  const p = Number(el.dataset.p);
  el.addEventListener('mouseenter', () => select(p));
  el.addEventListener('click', () => select(p));
}
const pre = new URLSearchParams(location.search).get('token');
if (pre !== null) select(Number(pre));
)";

}  // namespace

std::string RenderHtml(const RelevanceDocument& d, const std::string& title) {
  std::string spans, sources = "[";
  for (size_t p = 0; p < d.pieces.size(); ++p) {
    const bool generated = static_cast<int64_t>(p) >= d.first_generated;
    absl::StrAppend(&spans, "<span class=\"tok", generated ? " gen" : "", "\" id=\"t", p,
                    "\" data-p=\"", p, "\">", Escape(d.pieces[p]), "</span>");
    absl::StrAppend(&sources, p > 0 ? "," : "", "[");
    if (generated) {
      const auto& list = d.sources[p - d.first_generated];
      for (size_t k = 0; k < list.size(); ++k) {
        absl::StrAppend(&sources, k > 0 ? "," : "",
                        absl::StrFormat("[%d,%.6g]", list[k].position, list[k].score));
      }
    }
    sources += "]";
  }
  sources += "]";
  return absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", Escape(title),
      "</title>\n<style>", kStyle, "</style></head>\n<body>\n<h3>", Escape(title),
      "</h3>\n<p class=\"legend\">Hover a generated (underlined) token: "
      "<span style=\"background:rgba(220,0,0,.8)\">supports it</span>"
      "<span style=\"background:rgba(0,70,230,.8)\">opposes it</span></p>\n<div id=\"text\">",
      spans, "</div>\n<div id=\"panel\"></div>\n<script>\nconst SOURCES = ", sources, ";\n",
      kScript, "</script>\n</body></html>\n");
}

}  // namespace tandem::client
