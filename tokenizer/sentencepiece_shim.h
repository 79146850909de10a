#ifndef TANDEM_TOKENIZER_SENTENCEPIECE_SHIM_H_
#define TANDEM_TOKENIZER_SENTENCEPIECE_SHIM_H_

// A thin wrapper over sentencepiece::SentencePieceProcessor using only
// standard types. Debian's sentencepiece_processor.h declares its own
// `absl::string_view`, which clashes with Abseil's, so it is included in
// sentencepiece_shim.cc alone, never next to Abseil headers.

#include <memory>
#include <string>
#include <vector>

namespace tandem::tokenizer {

class SentencePieceShim {
 public:
  SentencePieceShim();
  ~SentencePieceShim();

  // Return "" on success, else SentencePiece's message. not_found is set when
  // the file does not exist.
  std::string Load(const std::string& path, bool& not_found);
  std::string LoadFromSerialized(const std::string& bytes);
  std::string Encode(const std::string& text, std::vector<int>& ids) const;
  std::string Decode(const std::vector<int>& ids, std::string& text) const;

  int size() const;
  const std::string& IdToPiece(int id) const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  bool IsByte(int id) const;
  int bos_id() const;
  int eos_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_SENTENCEPIECE_SHIM_H_
