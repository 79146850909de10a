#include "services/orchestrator/openai/routes.h"

#include <ctime>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/tandem/v1/generation_service.grpc.pb.h"
#include "services/common/bearer_auth.h"
#include "services/common/status.h"
#include "services/orchestrator/openai/request.h"
#include "services/orchestrator/openai/response.h"

namespace tandem::services::openai {
namespace {

using Json = nlohmann::json;

void SendError(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatus(status.code());
  res.set_content(Dump(ErrorJson(status)) + "\n", "application/json");
}

bool Authorized(const RoutesOptions& options, const httplib::Request& req,
                httplib::Response& res) {
  if (options.bearer_token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  constexpr absl::string_view kBearer = "Bearer ";
  if (absl::StartsWith(header, kBearer) &&
      ConstantTimeEquals(options.bearer_token, absl::string_view(header).substr(kBearer.size()))) {
    return true;
  }
  SendError(res, absl::UnauthenticatedError(
                     "missing or wrong bearer token (header `Authorization: Bearer <token>`)"));
  res.set_header("WWW-Authenticate", "Bearer");
  return false;
}

// One generation: the gRPC stream and what has been made of it so far.
struct Call {
  OpenAiRequest request;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::GenerateStreamResponse>> reader;
  std::unique_ptr<Responder> responder;
  v1::GenerateStreamResponse first;
  bool started = false;
  bool finished = false;

  // Ends the gRPC call; cancels it first when it has not run to its end.
  grpc::Status Finish(bool cancel) {
    if (finished) return grpc::Status::OK;
    finished = true;
    if (cancel) {
      context.TryCancel();
      v1::GenerateStreamResponse ignored;
      while (reader->Read(&ignored)) {
      }
    }
    return reader->Finish();
  }
};

// Feeds the response body, one gRPC message per call. Returns false (the
// library then closes the connection and the releaser cancels the call) when
// the client has gone: a failed write, or a closed socket seen between
// messages, which is how a non-streamed response notices.
bool Provide(Call& call, httplib::DataSink& sink) {
  if (!sink.is_writable()) return false;
  std::string out;
  v1::GenerateStreamResponse message;
  const bool stream = call.request.stream;
  if (!call.started) {
    call.started = true;
    out = call.responder->StartEvents() + call.responder->Add(call.first);
  } else if (call.reader->Read(&message)) {
    out = call.responder->Add(message);
  } else {
    const grpc::Status status = call.Finish(/*cancel=*/false);
    if (stream) {
      if (!status.ok()) out = Event(ErrorJson(FromGrpcStatus(status)));
      out += call.responder->EndEvents();
    } else {
      out = Dump(status.ok() ? call.responder->Response() : ErrorJson(FromGrpcStatus(status))) + "\n";
    }
    if (!sink.write(out.data(), out.size())) return false;
    sink.done();
    return true;
  }
  return out.empty() || sink.write(out.data(), out.size());
}

void Generate(Api api, const std::shared_ptr<v1::GenerationService::Stub>& stub,
              const RoutesOptions& options, const httplib::Request& req,
              httplib::Response& res) {
  if (!Authorized(options, req, res)) return;
  absl::StatusOr<OpenAiRequest> parsed = ParseRequest(api, req.body);
  if (!parsed.ok()) return SendError(res, parsed.status());
  if (!parsed->model.empty() && parsed->model != options.served_model) {
    return SendError(res, absl::NotFoundError(absl::StrCat(
                              "The model `", parsed->model, "` does not exist; this server serves `",
                              options.served_model, "` (GET /v1/models)")));
  }
  auto call = std::make_shared<Call>();
  call->request = *std::move(parsed);
  call->request.request.set_request_id(req.get_header_value("X-Request-Id"));
  call->reader = stub->GenerateStream(&call->context, call->request.request);
  // Wait for the first token: errors before it get their own HTTP status.
  if (!call->reader->Read(&call->first)) {
    const grpc::Status status = call->Finish(/*cancel=*/false);
    return SendError(res, status.ok() ? absl::InternalError("the generation produced nothing")
                                      : FromGrpcStatus(status));
  }
  const std::string& request_id = call->first.request_id();
  const std::string id =
      absl::StrCat(api == Api::kChatCompletions ? "chatcmpl-" : "cmpl-", request_id);
  call->responder = std::make_unique<Responder>(call->request, id, options.served_model,
                                                static_cast<int64_t>(std::time(nullptr)));
  res.set_header("X-Request-Id", request_id);
  if (call->request.stream) res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      call->request.stream ? "text/event-stream" : "application/json",
      [call](size_t, httplib::DataSink& sink) { return Provide(*call, sink); },
      // A client gone (or a server stopping) cancels the generation.
      [call](bool) { call->Finish(/*cancel=*/true); });
}

}  // namespace

void RegisterRoutes(httplib::Server& server, std::shared_ptr<grpc::Channel> channel,
                    const RoutesOptions& options) {
  auto stub = std::shared_ptr<v1::GenerationService::Stub>(v1::GenerationService::NewStub(channel));
  const auto created = static_cast<int64_t>(std::time(nullptr));
  server.Get("/v1/models", [options, created](const httplib::Request& req, httplib::Response& res) {
    if (!Authorized(options, req, res)) return;
    Json model{{"id", options.served_model},
               {"object", "model"},
               {"created", created},
               {"owned_by", "tandem"},
               {"max_model_len", options.context_length}};
    res.set_content(Dump(Json{{"object", "list"}, {"data", Json::array({model})}}) + "\n",
                    "application/json");
  });
  server.Post("/v1/completions", [stub, options](const httplib::Request& req, httplib::Response& res) {
    Generate(Api::kCompletions, stub, options, req, res);
  });
  server.Post("/v1/chat/completions",
              [stub, options](const httplib::Request& req, httplib::Response& res) {
                Generate(Api::kChatCompletions, stub, options, req, res);
              });
}

}  // namespace tandem::services::openai
