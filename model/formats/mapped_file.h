#ifndef TANDEM_MODEL_FORMATS_MAPPED_FILE_H_
#define TANDEM_MODEL_FORMATS_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tandem::model::formats {

// A whole file mapped read-only into memory. Immutable after Open, so it is
// safe to share between threads; the mapping lives as long as the object.
class MappedFile {
 public:
  // NotFound / PermissionDenied / Internal naming the path on failure. An
  // empty file opens fine with size() == 0.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // True when [offset, offset + length) lies inside the file (overflow-safe).
  bool Contains(uint64_t offset, uint64_t length) const {
    return offset <= size_ && length <= size_ - offset;
  }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_MAPPED_FILE_H_
