// tandem: the command-line client of a tandem orchestrator.
//
//   tandem generate --server=127.0.0.1:50050 --prompt="In the beginning" --speculation=draft
//       --draft_length=4 --stream --logprobs=3
//   tandem explore --server=127.0.0.1:50050 --prompt="In the beginning" --temperature=0.8
//       --top_p=0.9 --top_n=20 --samples=500 --png=chart.png
//   tandem generate --server=127.0.0.1:50050 --prompt="In the beginning" --relevance
//       --relevance_method=ig --relevance_steps=32 --relevance_html=relevance.html

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/relevance_html.h"
#include "client/relevance_view.h"
#include "client/tandem_client.h"
#include "tools/explorer/live_explorer.h"
#include "tools/explorer/png_chart.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50050", "Orchestrator address");
ABSL_FLAG(std::string, prompt, "", "Prompt text");
ABSL_FLAG(std::string, prompt_file, "", "A batch: one prompt per line of this file");
ABSL_FLAG(double, temperature, -1, "Temperature (0 = greedy); unset = server default");
ABSL_FLAG(int, top_k, -1, "Top-k (0 = off)");
ABSL_FLAG(double, top_p, -1, "Top-p in (0, 1]");
ABSL_FLAG(double, min_p, -1, "Min-p in [0, 1]");
ABSL_FLAG(double, typical_p, -1, "Typical-p in (0, 1]");
ABSL_FLAG(double, repetition_penalty, -1, "Repetition penalty (> 0)");
ABSL_FLAG(double, presence_penalty, 0, "Presence penalty in [-2, 2]");
ABSL_FLAG(double, frequency_penalty, 0, "Frequency penalty in [-2, 2]");
ABSL_FLAG(int, top_n, 20, "explore: tokens of each distribution to show, in [1, 4096]");
ABSL_FLAG(int, samples, 200, "explore: seeded samples the server draws, in [0, 100000]");
ABSL_FLAG(int, width, 40, "explore: bar width in characters");
ABSL_FLAG(std::string, png, "", "explore: also write the chart to this PNG file");
ABSL_FLAG(std::string, preset, "", "creative | precise | balanced | deterministic");
ABSL_FLAG(int64_t, seed, -1, "Sampling seed (>= 0)");
ABSL_FLAG(int, max_new_tokens, 64, "Tokens to generate");
ABSL_FLAG(std::vector<std::string>, stop, {}, "Stop strings");
ABSL_FLAG(int, num_return_sequences, 1, "Sequences per prompt");
ABSL_FLAG(std::string, speculation, "", "draft | self | ngram | off (default: the server's)");
ABSL_FLAG(std::string, draft_length, "", "Draft length N, or 'adaptive'");
ABSL_FLAG(int, exit_layer, 0, "Self-speculation exit layer (0 = model default)");
ABSL_FLAG(bool, pipelined, true,
          "Draft model: draft the next round while the target verifies (false: draft after)");
ABSL_FLAG(std::string, tree, "",
          "Draft model token tree as ALTERNATIVES:DEPTH, e.g. 1:2 (the draft's next-best token "
          "beside each of the first 2 drafted ones); 0:0 = chains; empty = the server's default");
ABSL_FLAG(bool, stream, false, "Stream text as it is generated");
ABSL_FLAG(int, logprobs, 0, "Print each token's logprob and this many alternatives");
ABSL_FLAG(int, timeout_s, 300, "Request deadline in seconds");
ABSL_FLAG(bool, relevance, false,
          "generate: also print, per generated token, its most relevant earlier tokens (heatmap)");
ABSL_FLAG(std::string, relevance_method, "", "ig (Integrated Gradients) | ixg (input x gradient)");
ABSL_FLAG(std::string, relevance_baseline, "", "ig baseline: mean (embedding, default) | zero");
ABSL_FLAG(int, relevance_steps, 0, "ig steps in [1, 1024]; 0 = server default (32)");
ABSL_FLAG(int, relevance_top_n, -1, "Sources per token in [1, 64]; unset = server default (8)");
ABSL_FLAG(std::string, relevance_html, "",
          "Write a self-contained HTML page of the first sequence's relevance (implies "
          "--relevance)");
ABSL_FLAG(bool, color, true, "ANSI colours (only when stdout is a terminal)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle that signs the server's certificate (enables TLS)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate for mutual TLS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token sent with the request (needs TLS)");

namespace {

void PrintStats(const tandem::v1::GenerationStats& s) {
  const auto& spec = s.speculation();
  std::cerr << absl::StrFormat(
      "[%d tokens, %.1f tok/s, ttft %.1f ms", s.generated_tokens(), s.tokens_per_second(),
      (s.time_to_first_token().seconds() * 1e3 + s.time_to_first_token().nanos() / 1e6));
  if (s.has_speculation() && spec.drafted_tokens() > 0) {
    std::cerr << absl::StrFormat(
        ", acceptance %.2f, mean accepted length %.2f, %d target passes",
        spec.acceptance_rate(), spec.mean_accepted_length(), spec.target_passes());
  }
  std::cerr << "]\n";
}

void PrintTokens(const google::protobuf::RepeatedPtrField<tandem::v1::GeneratedToken>& tokens) {
  for (const auto& t : tokens) {
    std::cout << absl::StrFormat("  %6d %-16s %8.4f", t.token_id(), "'" + t.piece() + "'", t.logprob());
    for (const auto& alt : t.top_logprobs()) {
      std::cout << absl::StrFormat("  %s:%.3f", alt.piece().empty() ? std::to_string(alt.token_id()) : alt.piece(), alt.logprob());
    }
    std::cout << "\n";
  }
}

int Explore(tandem::client::TandemClient& client, const tandem::client::GenerateOptions& o,
            absl::Duration timeout) {
  tandem::explorer::LiveOptions live;
  live.request = o;
  live.top_n = absl::GetFlag(FLAGS_top_n);
  live.samples = absl::GetFlag(FLAGS_samples);
  live.seed = o.seed.value_or(0);
  live.timeout = timeout;
  if (absl::GetFlag(FLAGS_width) < 1) {
    std::cerr << "error: --width must be >= 1\n";
    return 2;
  }
  absl::StatusOr<tandem::explorer::LiveView> view = tandem::explorer::ExploreLive(client, live);
  if (!view.ok()) {
    std::cerr << "error: " << view.status() << "\n";
    return view.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << tandem::explorer::Render(view->example, view->exploration,
                                        absl::GetFlag(FLAGS_width));
  std::cout << live.samples << " samples drawn by the server, seeds " << live.seed << ".."
            << live.seed + std::max(0, live.samples - 1) << std::endl;
  if (!absl::GetFlag(FLAGS_png).empty()) {
    absl::Status s = tandem::explorer::WriteChartPng(view->example, view->exploration,
                                                     absl::GetFlag(FLAGS_png));
    if (!s.ok()) {
      std::cerr << "error: " << s << "\n";
      return 1;
    }
    std::cerr << "wrote " << absl::GetFlag(FLAGS_png) << "\n";
  }
  return 0;
}

}  // namespace

// The relevance heatmap of one sequence (and its HTML page when asked and
// not yet written). Returns false when the answer cannot be shown.
bool ShowRelevance(const google::protobuf::RepeatedPtrField<tandem::v1::GeneratedToken>& prompt,
                   const google::protobuf::RepeatedPtrField<tandem::v1::GeneratedToken>& tokens,
                   const google::protobuf::RepeatedPtrField<tandem::v1::TokenRelevance>& relevance,
                   bool* html_written) {
  absl::StatusOr<tandem::client::RelevanceDocument> d =
      tandem::client::DocumentOf(prompt, tokens, relevance);
  if (!d.ok()) {
    std::cerr << "error: relevance: " << d.status().message() << "\n";
    return false;
  }
  tandem::client::TerminalViewOptions view;
  view.color = absl::GetFlag(FLAGS_color) && isatty(STDOUT_FILENO);
  std::cout << tandem::client::RenderTerminal(*d, view);
  const std::string html = absl::GetFlag(FLAGS_relevance_html);
  if (html.empty() || *html_written) return true;
  std::ofstream out(html);
  out << tandem::client::RenderHtml(*d, "tandem relevance");
  if (!out) {
    std::cerr << "error: --relevance_html: cannot write " << html << "\n";
    return false;
  }
  *html_written = true;
  std::cerr << "[relevance page: " << html << "]\n";
  return true;
}

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("tandem generate|explore --server=ADDR --prompt=TEXT [flags]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() == 2 ? args[1] : "";
  if (command != "generate" && command != "explore") {
    std::cerr << "usage: tandem generate|explore --server=ADDR --prompt=TEXT [flags] (see --help)\n";
    return 2;
  }
  tandem::client::GenerateOptions o;
  if (!absl::GetFlag(FLAGS_prompt).empty()) o.prompts.push_back(absl::GetFlag(FLAGS_prompt));
  if (!absl::GetFlag(FLAGS_prompt_file).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_prompt_file));
    if (!in) {
      std::cerr << "error: --prompt_file: cannot read " << absl::GetFlag(FLAGS_prompt_file) << "\n";
      return 2;
    }
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) o.prompts.push_back(line);
    }
  }
  if (absl::GetFlag(FLAGS_temperature) >= 0) o.temperature = absl::GetFlag(FLAGS_temperature);
  if (absl::GetFlag(FLAGS_top_k) >= 0) o.top_k = absl::GetFlag(FLAGS_top_k);
  if (absl::GetFlag(FLAGS_top_p) >= 0) o.top_p = absl::GetFlag(FLAGS_top_p);
  if (absl::GetFlag(FLAGS_min_p) >= 0) o.min_p = absl::GetFlag(FLAGS_min_p);
  if (absl::GetFlag(FLAGS_typical_p) >= 0) o.typical_p = absl::GetFlag(FLAGS_typical_p);
  if (absl::GetFlag(FLAGS_repetition_penalty) >= 0) o.repetition_penalty = absl::GetFlag(FLAGS_repetition_penalty);
  if (absl::GetFlag(FLAGS_presence_penalty) != 0) o.presence_penalty = absl::GetFlag(FLAGS_presence_penalty);
  if (absl::GetFlag(FLAGS_frequency_penalty) != 0) o.frequency_penalty = absl::GetFlag(FLAGS_frequency_penalty);
  o.preset = absl::GetFlag(FLAGS_preset);
  if (absl::GetFlag(FLAGS_seed) >= 0) o.seed = absl::GetFlag(FLAGS_seed);
  if (absl::GetFlag(FLAGS_max_new_tokens) < 1) {
    std::cerr << "error: --max_new_tokens must be >= 1\n";
    return 2;
  }
  o.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  o.stop_strings = absl::GetFlag(FLAGS_stop);
  o.num_return_sequences = absl::GetFlag(FLAGS_num_return_sequences);
  o.speculation = absl::GetFlag(FLAGS_speculation);
  o.pipelined = absl::GetFlag(FLAGS_pipelined);
  if (const std::string tree = absl::GetFlag(FLAGS_tree); !tree.empty()) {
    const std::vector<std::string> parts = absl::StrSplit(tree, ':');
    uint32_t alternatives = 0, depth = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &alternatives) ||
        !absl::SimpleAtoi(parts[1], &depth)) {
      std::cerr << "error: --tree must be ALTERNATIVES:DEPTH, e.g. 1:2\n";
      return 2;
    }
    o.tree_alternatives = alternatives;
    o.tree_depth = depth;
  }
  const std::string gamma = absl::GetFlag(FLAGS_draft_length);
  if (gamma == "adaptive") {
    o.adaptive = true;
  } else if (!gamma.empty()) {
    int n = 0;
    if (!absl::SimpleAtoi(gamma, &n) || n < 1) {
      std::cerr << "error: --draft_length must be a positive integer or 'adaptive'\n";
      return 2;
    }
    o.draft_length = n;
  }
  if (absl::GetFlag(FLAGS_exit_layer) > 0) o.exit_layer = absl::GetFlag(FLAGS_exit_layer);
  o.logprobs = std::max(0, absl::GetFlag(FLAGS_logprobs));
  o.relevance = absl::GetFlag(FLAGS_relevance) || !absl::GetFlag(FLAGS_relevance_html).empty();
  o.relevance_method = absl::GetFlag(FLAGS_relevance_method);
  o.relevance_baseline = absl::GetFlag(FLAGS_relevance_baseline);
  if (absl::GetFlag(FLAGS_relevance_steps) > 0) o.relevance_steps = absl::GetFlag(FLAGS_relevance_steps);
  if (absl::GetFlag(FLAGS_relevance_top_n) >= 0) o.relevance_top_n = absl::GetFlag(FLAGS_relevance_top_n);
  bool html_written = false;
  auto request = tandem::client::BuildRequest(o);
  if (!request.ok()) {
    std::cerr << "error: " << request.status().message() << "\n";
    return 2;
  }
  tandem::services::ChannelSecurity security;
  security.ca_file = absl::GetFlag(FLAGS_tls_ca);
  security.cert_file = absl::GetFlag(FLAGS_tls_cert);
  security.key_file = absl::GetFlag(FLAGS_tls_key);
  security.bearer_token_file = absl::GetFlag(FLAGS_auth_token_file);
  auto connected = tandem::client::TandemClient::Create(absl::GetFlag(FLAGS_server), security);
  if (!connected.ok()) {
    std::cerr << "error: " << connected.status().message() << "\n";
    return 2;
  }
  tandem::client::TandemClient& client = **connected;
  const absl::Duration timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  if (command == "explore") return Explore(client, o, timeout);
  if (absl::GetFlag(FLAGS_stream)) {
    // Per (prompt, sequence): the streamed tokens, for the relevance view at the end.
    std::map<std::pair<uint32_t, uint32_t>,
             google::protobuf::RepeatedPtrField<tandem::v1::GeneratedToken>>
        streamed;
    bool shown = true;
    absl::Status s = client.GenerateStream(*request, [&](const tandem::v1::GenerateStreamResponse& m) {
      if (m.has_chunk() && o.relevance) {
        auto& tokens = streamed[{m.chunk().prompt_index(), m.chunk().sequence_index()}];
        tokens.MergeFrom(m.chunk().tokens());
      }
      if (m.has_chunk()) {
        if (o.prompts.size() * o.num_return_sequences > 1) {
          std::cout << "[" << m.chunk().prompt_index() << "." << m.chunk().sequence_index() << "] ";
        }
        std::cout << m.chunk().text_delta() << std::flush;
        if (o.logprobs > 0) PrintTokens(m.chunk().tokens());
      } else if (m.has_sequence_end()) {
        std::cout << "\n";
        std::cerr << "[finish: " << tandem::v1::FinishReason_Name(m.sequence_end().finish_reason())
                  << "] ";
        PrintStats(m.sequence_end().stats());
        const auto& end = m.sequence_end();
        if (o.relevance) {
          shown &= ShowRelevance(end.prompt_tokens(),
                                 streamed[{end.prompt_index(), end.sequence_index()}],
                                 end.relevance(), &html_written);
        }
      }
      return true;
    }, timeout);
    if (!s.ok()) {
      std::cerr << "error: " << s << "\n";
      return 1;
    }
    return shown ? 0 : 1;
  }
  auto response = client.Generate(*request, timeout);
  if (!response.ok()) {
    std::cerr << "error: " << response.status() << "\n";
    return 1;
  }
  for (const auto& seq : response->sequences()) {
    std::cout << seq.text() << "\n";
    if (o.logprobs > 0) PrintTokens(seq.tokens());
    if (o.relevance && !ShowRelevance(seq.prompt_tokens(), seq.tokens(), {}, &html_written)) {
      return 1;
    }
    std::cerr << "[prompt " << seq.prompt_index() << " seq " << seq.sequence_index()
              << ", finish: " << tandem::v1::FinishReason_Name(seq.finish_reason()) << "] ";
    PrintStats(seq.stats());
  }
  return 0;
}
