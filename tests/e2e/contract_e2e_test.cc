// The contract says what the code does. Every promise of an error in the
// comments of the request messages (a range, a limit, "must", "needs",
// INVALID_ARGUMENT) has a row below; the test finds the promises in the
// .proto text, fails for one without a row, and sends each row's violating
// request to a real orchestrator (gRPC on loopback, both RPCs), expecting
// INVALID_ARGUMENT with a message that names the field by its path in the
// request. Every enum field of the request gets an undefined value.

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "proto/tandem/v1/generation_service.grpc.pb.h"
#include "services/common/channel.h"
#include "services/orchestrator/validation.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/testing/oracles.h"

namespace tandem {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::testing::HasSubstr;

constexpr const char* kRequestProtos[] = {"proto/tandem/v1/generation_service.proto",
                                          "proto/tandem/v1/common.proto"};

std::string ReadProto(const std::string& path) {
  absl::StatusOr<std::string> file = testing::RunfilePath(path);
  if (!file.ok()) return "";
  std::ifstream in(*file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The comment of every message ("Message") and field ("Message.field") of
// a .proto file: the `//` lines right above it plus a trailing comment.
std::map<std::string, std::string> Comments(const std::string& proto) {
  static const std::regex kOpen(R"(^(message|oneof|enum|service) (\w+) \{)");
  static const std::regex kField(
      R"(^(optional |repeated )?[\w.]+ (\w+) = \d+;\s*(//(.*))?$)");
  std::map<std::string, std::string> comments;
  std::vector<std::string> scopes;  // Message names; "" for other blocks.
  std::string pending;
  std::istringstream lines(proto);
  for (std::string line; std::getline(lines, line);) {
    line.erase(0, line.find_first_not_of(' '));
    std::smatch m;
    if (line.rfind("//", 0) == 0) {
      pending += line.substr(2) + " ";
      continue;
    }
    if (std::regex_search(line, m, kOpen)) {
      const bool message = m[1] == "message";
      if (message) comments[m[2]] = pending;
      scopes.push_back(message ? std::string(m[2]) : "");
    } else if (line.rfind("}", 0) == 0 && !scopes.empty()) {
      scopes.pop_back();
    } else if (std::regex_search(line, m, kField)) {
      std::string owner;
      for (const std::string& s : scopes) owner = s.empty() ? owner : s;
      if (!owner.empty()) comments[owner + "." + std::string(m[2])] = pending + std::string(m[4]);
    }
    pending.clear();
  }
  return comments;
}

// The tandem.v1 messages a GenerateRequest or GenerateStreamRequest can
// carry, and their enum-typed fields ("Message.field").
void Reachable(const Descriptor* d, std::set<std::string>& messages,
               std::set<std::string>& enum_fields) {
  if (d->file()->package() != "tandem.v1" || !messages.insert(d->name()).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_ENUM) enum_fields.insert(d->name() + "." + f->name());
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) Reachable(f->message_type(), messages, enum_fields);
  }
}

bool PromisesAnError(const std::string& comment) {
  static const std::regex kPromise(
      R"(\bin [\[(]|\bat most\b|\bmust\b|\bneeds?\b|INVALID_ARGUMENT|<=|\bnon-empty\b|)"
      R"(\bdistinct\b|\bshorter than\b|\bvalid Duration\b|\b\d+ to \d+\b)",
      std::regex::icase);
  return std::regex_search(comment, kPromise);
}

struct Row {
  std::string promise;  // "Message.field" (or "Message") whose comment it tests.
  std::string request;  // GenerateRequest, text format.
  std::string field;    // The error message names it: "`<field>".
  std::function<void(v1::GenerateRequest&)> edit = nullptr;  // Applied after parsing.
};

void AddTokenIds(v1::GenerateRequest& r, int n) {
  for (int i = 0; i < n; ++i) r.mutable_prompts(0)->mutable_token_ids()->add_ids(100);
}

// The shipped target: vocabulary 8000, context 1024, 8 layers; the
// orchestrator's default limits (validation.h).
std::vector<Row> Rows() {
  const std::string p = R"(prompts { text: "In the beginning" } )";
  const std::string sampled = "sampling { temperature: 1 } ";
  std::vector<Row> rows = {
      {"GenerateRequest.request_id", std::string("request_id: \"") + std::string(129, 'r') + "\" " + p,
       "request_id"},
      {"GenerateRequest.prompts", "", "prompts"},
      {"GenerateRequest.prompts", p + p, "prompts", [](v1::GenerateRequest& r) {
         for (int i = 0; i < 32; ++i) *r.add_prompts() = r.prompts(0);
       }},
      {"GenerateRequest.prompts", p + R"(prompts { text: "" })", "prompts[1]"},
      {"GenerateRequest.prompts", R"(prompts { token_ids {} })", "prompts[0]"},
      {"GenerateRequest.prompts", R"(prompts { token_ids {} })", "prompts[0].token_ids",
       [](v1::GenerateRequest& r) { AddTokenIds(r, 1024); }},
      {"GenerateRequest.prompts", R"(prompts { text: "" })", "prompts[0].text",
       [](v1::GenerateRequest& r) { r.mutable_prompts(0)->set_text(std::string(10 << 20, 'x')); }},
      {"TokenIds.ids", R"(prompts { token_ids { ids: 5 ids: 8000 } })", "prompts[0].token_ids"},
      {"ChatPrompt.messages", R"(prompts { chat {} })", "prompts[0].chat.messages"},
      {"ChatPrompt.messages", R"(prompts { chat {} })", "prompts[0].chat.messages",
       [](v1::GenerateRequest& r) {
         for (int i = 0; i < 1025; ++i) {
           v1::ChatMessage* m = r.mutable_prompts(0)->mutable_chat()->add_messages();
           m->set_role("user");
           m->set_content("hi");
         }
       }},
      {"ChatMessage.role", R"(prompts { chat { messages { content: "hi" } } })",
       "prompts[0].chat.messages[0].role"},
      {"GenerateRequest.prompts", R"(prompts { chat { messages { role: "user" } } })",
       "prompts[0].chat.messages", [](v1::GenerateRequest& r) {
         r.mutable_prompts(0)->mutable_chat()->mutable_messages(0)->set_content(
             std::string(10 << 20, 'x'));
       }},
      {"GenerationConfig.num_return_sequences",
       p + "config { num_return_sequences: 17 " + sampled + "}", "config.num_return_sequences"},
      {"GenerationConfig.num_return_sequences",
       p + "config { num_return_sequences: 2 sampling { temperature: 0 } }",
       "config.num_return_sequences"},
      {"GenerationConfig.num_return_sequences",
       p + "config { num_return_sequences: 3 beam_search { num_beams: 2 } }",
       "config.num_return_sequences"},
      {"SamplingParams.preset", p + "config { sampling { preset: 99 } }", "config.sampling.preset"},
      {"SamplingParams.temperature", p + "config { sampling { temperature: 101 } }",
       "config.sampling.temperature"},
      {"SamplingParams.temperature", p + "config { sampling { temperature: -1 } }",
       "config.sampling.temperature"},
      {"SamplingParams.top_p", p + "config { sampling { top_p: 0 } }", "config.sampling.top_p"},
      {"SamplingParams.top_p", p + "config { sampling { top_p: 1.5 } }", "config.sampling.top_p"},
      {"SamplingParams.min_p", p + "config { sampling { min_p: 1.5 } }", "config.sampling.min_p"},
      {"SamplingParams.typical_p", p + "config { sampling { typical_p: 0 } }",
       "config.sampling.typical_p"},
      {"SamplingParams.repetition_penalty", p + "config { sampling { repetition_penalty: 0 } }",
       "config.sampling.repetition_penalty"},
      {"SamplingParams.repetition_penalty", p + "config { sampling { repetition_penalty: 11 } }",
       "config.sampling.repetition_penalty"},
      {"SamplingParams.presence_penalty", p + "config { sampling { presence_penalty: 3 } }",
       "config.sampling.presence_penalty"},
      {"SamplingParams.frequency_penalty", p + "config { sampling { frequency_penalty: -3 } }",
       "config.sampling.frequency_penalty"},
      {"SamplingParams.no_repeat_ngram_size",
       p + "config { sampling { no_repeat_ngram_size: 65 } }", "config.sampling.no_repeat_ngram_size"},
      {"SamplingParams.banned_token_ids", p + "config { sampling { banned_token_ids: 8000 } }",
       "config.sampling.banned_token_ids"},
      {"SamplingParams.banned_token_ids", p + "config { sampling {} }",
       "config.sampling.banned_token_ids", [](v1::GenerateRequest& r) {
         for (int i = 0; i < 4097; ++i) r.mutable_config()->mutable_sampling()->add_banned_token_ids(1);
       }},
      {"SamplingParams.logit_bias", p + "config { sampling {} }", "config.sampling.logit_bias",
       [](v1::GenerateRequest& r) {
         for (int i = 0; i < 1025; ++i) {
           r.mutable_config()->mutable_sampling()->add_logit_bias()->set_token_id(i);
         }
       }},
      {"SamplingParams.logit_bias",
       p + "config { sampling { logit_bias { token_id: 7 bias: 1 } logit_bias { token_id: 7 } } }",
       "config.sampling.logit_bias"},
      {"LogitBias.token_id", p + "config { sampling { logit_bias { token_id: 8000 bias: 1 } } }",
       "config.sampling.logit_bias.token_id"},
      {"LogitBias.bias", p + "config { sampling { logit_bias { token_id: 7 bias: 101 } } }",
       "config.sampling.logit_bias.bias"},
      {"StoppingCriteria.max_new_tokens", p + "config { stopping { max_new_tokens: 0 } }",
       "config.stopping.max_new_tokens"},
      {"StoppingCriteria.max_new_tokens", p + "config { stopping { max_new_tokens: 1025 } }",
       "config.stopping.max_new_tokens"},
      {"StoppingCriteria.max_length", p + "config { stopping { max_length: 1 } }",
       "config.stopping.max_length"},
      {"StoppingCriteria.max_length", p + "config { stopping { max_length: 1025 } }",
       "config.stopping.max_length"},
      {"StoppingCriteria.min_new_tokens",
       p + "config { stopping { max_new_tokens: 5 min_new_tokens: 6 } }",
       "config.stopping.min_new_tokens"},
      {"StoppingCriteria.eos_token_ids", p + "config { stopping { eos_token_ids: 8000 } }",
       "config.stopping.eos_token_ids"},
      {"StoppingCriteria.ignore_eos", p + "config { stopping { ignore_eos: true eos_token_ids: 2 } }",
       "config.stopping.eos_token_ids"},
      {"StoppingCriteria.stop_strings", p + R"(config { stopping { stop_strings: "" } })",
       "config.stopping.stop_strings[0]"},
      {"StoppingCriteria.stop_strings", p + "config { stopping {} }",
       "config.stopping.stop_strings[0]", [](v1::GenerateRequest& r) {
         r.mutable_config()->mutable_stopping()->add_stop_strings(std::string(257, 's'));
       }},
      {"StoppingCriteria.stop_strings", p + "config { stopping {} }", "config.stopping.stop_strings",
       [](v1::GenerateRequest& r) {
         for (int i = 0; i < 17; ++i) r.mutable_config()->mutable_stopping()->add_stop_strings("s");
       }},
      {"StoppingCriteria.max_time", p + "config { stopping { max_time {} } }",
       "config.stopping.max_time"},
      {"StoppingCriteria.max_time", p + "config { stopping { max_time { seconds: 3601 } } }",
       "config.stopping.max_time"},
      {"StoppingCriteria.max_time", p + "config { stopping { max_time { nanos: 2000000000 } } }",
       "config.stopping.max_time"},
      {"BeamSearchParams", p + "config { beam_search { num_beams: 2 } speculation { mode: SPECULATION_MODE_NGRAM } }",
       "config.speculation.mode"},
      {"BeamSearchParams",
       p + "config { beam_search { num_beams: 2 } speculation { fixed_draft_length: 9 } }",
       "config.speculation.fixed_draft_length"},
      {"BeamSearchParams",
       p + "config { beam_search { num_beams: 2 } speculation { adaptive {} } }",
       "config.speculation.adaptive"},
      {"BeamSearchParams",
       p + "config { beam_search { num_beams: 2 } speculation { tree { alternatives: 1 } } }",
       "config.speculation.tree"},
      {"BeamSearchParams.num_beams", p + "config { beam_search { num_beams: 17 } }",
       "config.beam_search.num_beams"},
      {"BeamSearchParams.length_penalty",
       p + "config { beam_search { num_beams: 2 length_penalty: 11 } }",
       "config.beam_search.length_penalty"},
      {"BeamSearchParams.early_stopping", p + "config { beam_search { early_stopping: 99 } }",
       "config.beam_search.early_stopping"},
      {"SpeculationConfig.mode", p + "config { speculation { mode: 99 } }",
       "config.speculation.mode"},
      {"SpeculationConfig",
       p + "config { speculation { mode: SPECULATION_MODE_DRAFT_MODEL "
           "self_speculative { exit_layer: 2 } } }",
       "config.speculation.self_speculative.exit_layer"},
      {"SpeculationConfig",
       p + "config { speculation { mode: SPECULATION_MODE_DRAFT_MODEL "
           "ngram { min_ngram_size: 1 max_ngram_size: 2 } } }",
       "config.speculation.ngram"},
      {"SpeculationConfig.fixed_draft_length",
       p + "config { speculation { fixed_draft_length: 0 } }",
       "config.speculation.fixed_draft_length"},
      {"SpeculationConfig.fixed_draft_length",
       p + "config { speculation { fixed_draft_length: 17 } }",
       "config.speculation.fixed_draft_length"},
      {"AdaptiveDraftLength.min_draft_length",
       p + "config { speculation { adaptive { min_draft_length: 5 max_draft_length: 4 } } }",
       "config.speculation.adaptive.min_draft_length"},
      {"AdaptiveDraftLength.max_draft_length",
       p + "config { speculation { adaptive { max_draft_length: 17 } } }",
       "config.speculation.adaptive.max_draft_length"},
      {"AdaptiveDraftLength.initial_draft_length",
       p + "config { speculation { adaptive { max_draft_length: 4 initial_draft_length: 5 } } }",
       "config.speculation.adaptive.initial_draft_length"},
      {"AdaptiveDraftLength.initial_draft_length",
       p + "config { speculation { adaptive { min_draft_length: 3 initial_draft_length: 2 } } }",
       "config.speculation.adaptive.initial_draft_length"},
      {"SelfSpeculativeOptions.exit_layer",
       p + "config { speculation { mode: SPECULATION_MODE_SELF_SPECULATIVE "
           "self_speculative { exit_layer: 0 } } }",
       "config.speculation.self_speculative.exit_layer"},
      {"SelfSpeculativeOptions.exit_layer",
       p + "config { speculation { mode: SPECULATION_MODE_SELF_SPECULATIVE "
           "self_speculative { exit_layer: 8 } } }",
       "config.speculation.self_speculative.exit_layer"},
      {"NgramOptions.min_ngram_size",
       p + "config { speculation { mode: SPECULATION_MODE_NGRAM "
           "ngram { min_ngram_size: 5 max_ngram_size: 4 } } }",
       "config.speculation.ngram"},
      {"NgramOptions.min_ngram_size",
       p + "config { speculation { mode: SPECULATION_MODE_NGRAM ngram { max_ngram_size: 17 } } }",
       "config.speculation.ngram"},
      {"SpeculationConfig.tree",
       p + "config { speculation { mode: SPECULATION_MODE_NGRAM tree { alternatives: 1 depth: 1 } } }",
       "config.speculation.tree"},
      {"TreeShape",
       p + "config { speculation { mode: SPECULATION_MODE_DRAFT_MODEL "
           "tree { alternatives: 4 depth: 1 } } }",
       "config.speculation.tree.alternatives"},
      {"TreeShape",
       p + "config { speculation { mode: SPECULATION_MODE_DRAFT_MODEL "
           "tree { alternatives: 1 depth: 9 } } }",
       "config.speculation.tree.depth"},
      {"OutputOptions.top_logprobs", p + "config { output { logprobs: true top_logprobs: 21 } }",
       "config.output.top_logprobs"},
      {"OutputOptions.top_logprobs", p + "config { output { top_logprobs: 2 } }",
       "config.output.top_logprobs"},
      {"OutputOptions.distribution_top_n", p + "config { output { distribution_top_n: 4097 } }",
       "config.output.distribution_top_n"},
      {"OutputOptions.distribution_top_n",
       p + "config { output { distribution_top_n: 4096 } stopping { max_new_tokens: 17 } }",
       "config.output.distribution_top_n"},
      {"OutputOptions.distribution_top_n",
       p + "config { output { distribution_top_n: 8 } beam_search { num_beams: 2 } "
           "sampling { temperature: 0 } }",
       "config.output.distribution_top_n"},
      {"OutputOptions.relevance",
       p + "config { output { relevance { enabled: true } } beam_search { num_beams: 2 } "
           "sampling { temperature: 0 } }",
       "config.output.relevance"},
      {"RelevanceOptions.method", p + "config { output { relevance { enabled: true method: 99 } } }",
       "config.output.relevance.method"},
      {"RelevanceOptions.baseline",
       p + "config { output { relevance { enabled: true baseline: 99 } } }",
       "config.output.relevance.baseline"},
      {"RelevanceOptions.baseline",
       p + "config { output { relevance { enabled: true method: RELEVANCE_METHOD_INPUT_X_GRADIENT "
           "baseline: RELEVANCE_BASELINE_ZERO } } }",
       "config.output.relevance.baseline"},
      {"RelevanceOptions.steps", p + "config { output { relevance { enabled: true steps: 1025 } } }",
       "config.output.relevance.steps"},
      {"RelevanceOptions.steps",
       p + "config { output { relevance { enabled: true method: RELEVANCE_METHOD_INPUT_X_GRADIENT "
           "steps: 4 } } }",
       "config.output.relevance.steps"},
      {"RelevanceOptions.top_n", p + "config { output { relevance { enabled: true top_n: 65 } } }",
       "config.output.relevance.top_n"},
      {"RelevanceOptions.top_n", p + "config { output { relevance { enabled: true top_n: 0 } } }",
       "config.output.relevance.top_n"},
      {"RelevanceOptions",
       p + "config { output { relevance { enabled: true top_n: 64 } } num_return_sequences: 2 "
           "sampling { temperature: 1 } stopping { max_new_tokens: 600 } }",
       "config.output.relevance.top_n"},
      {"RelevanceOptions",
       p + "config { output { relevance { enabled: true dense: true } } num_return_sequences: 4 "
           "sampling { temperature: 1 } stopping { max_new_tokens: 1000 } }",
       "config.output.relevance.dense"},
  };
  return rows;
}

class ContractE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = testing::E2eCluster::Start().release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    stub_ = v1::GenerationService::NewStub(*services::MakeChannel(cluster_->address()));
  }

  grpc::Status Generate(const v1::GenerateRequest& request, v1::GenerateResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return stub_->Generate(&context, request, response);
  }

  // The stream's status; its messages in `messages`.
  grpc::Status GenerateStream(const v1::GenerateRequest& request,
                              std::vector<v1::GenerateStreamResponse>* messages) {
    v1::GenerateStreamRequest stream;
    stream.set_request_id(request.request_id());
    *stream.mutable_prompts() = request.prompts();
    *stream.mutable_config() = request.config();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->GenerateStream(&context, stream);
    for (v1::GenerateStreamResponse m; reader->Read(&m);) messages->push_back(m);
    return reader->Finish();
  }

  static testing::E2eCluster* cluster_;
  std::unique_ptr<v1::GenerationService::Stub> stub_;
};

testing::E2eCluster* ContractE2eTest::cluster_ = nullptr;

TEST_F(ContractE2eTest, EveryPromisedErrorHasARowAndEveryRowNamesItsField) {
  std::set<std::string> messages, enum_fields;
  Reachable(v1::GenerateRequest::descriptor(), messages, enum_fields);
  Reachable(v1::GenerateStreamRequest::descriptor(), messages, enum_fields);
  std::set<std::string> promises = enum_fields;
  std::set<std::string> commented;
  for (const char* path : kRequestProtos) {
    const std::string text = ReadProto(path);
    ASSERT_FALSE(text.empty()) << path;
    for (const auto& [name, comment] : Comments(text)) {
      if (!messages.count(name.substr(0, name.find('.')))) continue;
      commented.insert(name);
      if (PromisesAnError(comment)) promises.insert(name);
    }
  }
  // The parser sees the request messages (the test would pass vacuously
  // otherwise).
  ASSERT_GE(promises.size(), 37u);
  ASSERT_TRUE(commented.count("SamplingParams.top_p"));
  const std::vector<Row> rows = Rows();
  std::set<std::string> covered;
  for (const Row& row : rows) {
    EXPECT_TRUE(commented.count(row.promise) || enum_fields.count(row.promise))
        << "row for unknown field " << row.promise;
    covered.insert(row.promise);
  }
  for (const std::string& promise : promises) {
    EXPECT_TRUE(covered.count(promise))
        << promise << " promises an error (proto comment or enum) but has no row here";
  }
  for (const Row& row : rows) {
    v1::GenerateRequest request;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(row.request, &request)) << row.request;
    if (row.edit) row.edit(request);
    const std::string what = absl::StrCat(row.promise, ": ", row.request.substr(0, 200));
    v1::GenerateResponse response;
    grpc::Status unary = Generate(request, &response);
    EXPECT_EQ(unary.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << " -> " << unary.error_message();
    EXPECT_THAT(unary.error_message(), HasSubstr("`" + row.field)) << what;
    std::vector<v1::GenerateStreamResponse> streamed;
    grpc::Status stream = GenerateStream(request, &streamed);
    EXPECT_EQ(stream.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what;
    EXPECT_THAT(stream.error_message(), HasSubstr("`" + row.field)) << what;
    EXPECT_TRUE(streamed.empty()) << what;
  }
}

// The row above for prompt bytes tests the number the proto states.
TEST_F(ContractE2eTest, PromptByteLimitIsTheOneTheProtoStates) {
  EXPECT_THAT(ReadProto(kRequestProtos[0]),
              HasSubstr(absl::StrCat("at most ", services::kMaxPromptBytesPerToken,
                                     " bytes")));
}

// A request that no row's change touches is served (the rows fail for
// their own reason, not because the cluster is down).
TEST_F(ContractE2eTest, TheBaseRequestIsServed) {
  v1::GenerateRequest request;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(prompts { text: "In the beginning" } config { stopping { max_new_tokens: 4 } })",
      &request));
  v1::GenerateResponse response;
  grpc::Status status = Generate(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.sequences_size(), 1);
}

// GeneratedSequence.score: with logprobs, the sum of the returned token
// logprobs (sampled and greedy alike, in both RPCs); unset without.
TEST_F(ContractE2eTest, ScoreIsTheSumOfTokenLogprobsWhenLogprobsAreRequested) {
  v1::GenerateRequest request;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(prompts { text: "In the beginning" }
         config { num_return_sequences: 2 sampling { temperature: 0.8 seed: 7 }
                  stopping { max_new_tokens: 12 } output { logprobs: true } })",
      &request));
  v1::GenerateResponse response;
  grpc::Status status = Generate(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.sequences_size(), 2);
  std::map<uint32_t, double> sums;
  for (const v1::GeneratedSequence& s : response.sequences()) {
    ASSERT_TRUE(s.has_score()) << "sequence " << s.sequence_index();
    double sum = 0;
    for (const v1::GeneratedToken& t : s.tokens()) {
      ASSERT_TRUE(t.has_logprob());
      sum += t.logprob();
    }
    EXPECT_LT(sum, 0);
    EXPECT_DOUBLE_EQ(s.score(), sum);
    sums[s.sequence_index()] = sum;
  }
  std::vector<v1::GenerateStreamResponse> streamed;
  ASSERT_TRUE(GenerateStream(request, &streamed).ok());
  int ends = 0;
  for (const v1::GenerateStreamResponse& m : streamed) {
    if (!m.has_sequence_end()) continue;
    ++ends;
    ASSERT_TRUE(m.sequence_end().has_score());
    // Seeded: the stream reproduces the unary sequences.
    EXPECT_DOUBLE_EQ(m.sequence_end().score(), sums[m.sequence_end().sequence_index()]);
  }
  EXPECT_EQ(ends, 2);
  request.mutable_config()->mutable_output()->set_logprobs(false);
  response.Clear();
  ASSERT_TRUE(Generate(request, &response).ok());
  for (const v1::GeneratedSequence& s : response.sequences()) EXPECT_FALSE(s.has_score());
}

}  // namespace
}  // namespace tandem
