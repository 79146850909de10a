#ifndef TANDEM_SERVICES_ORCHESTRATOR_OPENAI_ROUTES_H_
#define TANDEM_SERVICES_ORCHESTRATOR_OPENAI_ROUTES_H_

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <httplib.h>

namespace tandem::services::openai {

struct RoutesOptions {
  // The one model id /v1/models lists; requests naming another model get 404.
  std::string served_model;
  int64_t context_length = 0;  // Reported as max_model_len.
  // When non-empty, /v1/* requests must carry "Authorization: Bearer <token>"
  // (compared in constant time) or get 401. /healthz and /metrics stay open.
  std::string bearer_token;
};

// Registers the OpenAI-compatible API on `server`:
//
//   GET  /v1/models
//   POST /v1/completions
//   POST /v1/chat/completions
//
// Each request becomes one GenerationService.GenerateStream call through
// `channel` (the orchestrator's in-process channel), so validation,
// admission, metrics and logs are those of the gRPC API. `X-Request-Id`
// travels as the request id. The response headers wait for the first
// generated token, so a request refused up front gets its HTTP error status
// (400/401/404/429/503, OpenAI's error object); an error after that ends a
// stream with an error event, and a non-streamed body with the error object.
// Responses are chunked (Transfer-Encoding); a client that disconnects
// cancels its generation at the next token. Thread-safe.
void RegisterRoutes(httplib::Server& server, std::shared_ptr<grpc::Channel> channel,
                    const RoutesOptions& options);

}  // namespace tandem::services::openai

#endif  // TANDEM_SERVICES_ORCHESTRATOR_OPENAI_ROUTES_H_
