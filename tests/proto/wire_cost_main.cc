// Prints the bytes on the wire per speculative round (docs/proto.md, "Wire cost"):
//   bazel run //tests/proto:wire_cost
#include <cstdio>
#include <vector>

#include "tests/proto/wire_cost.h"

namespace {

using tandem::proto_testing::GrpcFramedBytes;
using tandem::proto_testing::MeasureRound;
using tandem::proto_testing::MeasureSparseEncodings;
using tandem::proto_testing::QEncoding;
using tandem::proto_testing::QEncodingName;
using tandem::proto_testing::RoundBytes;
using tandem::proto_testing::RoundShape;

struct Encoding {
  QEncoding encoding;
  int support;
};

void PrintRounds() {
  const std::vector<Encoding> encodings = {{QEncoding::kDense, 0},  {QEncoding::kSparse, 50},
                                           {QEncoding::kSparse, 500}, {QEncoding::kOneHot, 0},
                                           {QEncoding::kNone, 0}};
  std::printf("| vocab | gamma | q | Propose req | Propose resp | Verify req | Verify resp |"
              " round (protobuf) | round (+gRPC/HTTP2 DATA framing) |\n");
  std::printf("|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
  for (int vocab : {8000, 32000, 128256}) {
    for (int gamma : {4, 8}) {
      for (const Encoding& e : encodings) {
        RoundShape shape;
        shape.vocab_size = vocab;
        shape.gamma = gamma;
        shape.encoding = e.encoding;
        shape.support = e.support;
        shape.accepted = gamma / 2;
        const RoundBytes b = MeasureRound(shape);
        std::string name = QEncodingName(e.encoding);
        if (e.support > 0) name += " (" + std::to_string(e.support) + ")";
        std::printf("| %d | %d | %s | %zu | %zu | %zu | %zu | %zu | %zu |\n", vocab, gamma,
                    name.c_str(), b.propose_request, b.propose_response, b.verify_request,
                    b.verify_response, b.Protobuf(), b.WithGrpcFraming());
      }
    }
  }
}

void PrintSparseAlternatives() {
  std::printf("\n| vocab | support | packed ids + probs (bytes/position) |"
              " repeated {token_id, prob} (bytes/position) |\n");
  std::printf("|---:|---:|---:|---:|\n");
  for (int vocab : {8000, 32000, 128256}) {
    for (int support : {50, 500}) {
      const auto s = MeasureSparseEncodings(vocab, support);
      std::printf("| %d | %d | %zu | %zu |\n", vocab, support, s.packed, s.entries);
    }
  }
}

}  // namespace

int main() {
  PrintRounds();
  PrintSparseAlternatives();
  std::printf("\ngRPC default max receive message size: %d bytes\n", 4 << 20);
  std::printf("framed size of a 4 MiB message: %zu bytes\n", GrpcFramedBytes(4u << 20));
  return 0;
}
