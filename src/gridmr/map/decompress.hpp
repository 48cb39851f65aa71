// Compressed input files (gzip, zstd), read as the text they hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gridmr {

// What a file's name says it holds: `.gz` gzip (zlib's multi-member gzip, as
// `gzip`, `pigz` and `bgzip` write it), `.zst` zstd (any number of frames).
enum class Compression { kNone, kGzip, kZstd };
Compression compression_of(std::string_view path);

// Streams the decompressed bytes of an open file, front to back. Errors (data
// that is not of the format, a file that ends inside a stream) are RunErrors
// naming the file.
class Decompressor {
 public:
  // Reads `fd` (not owned) from its current position.
  Decompressor(int fd, Compression format, std::string path);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Up to `want` bytes into `out` (fewer only at the end); 0 at the end.
  std::size_t read(char* out, std::size_t want);
  // Decompressed bytes given so far.
  std::uint64_t position() const { return position_; }

 private:
  // Refills the input buffer; false at the end of the file.
  bool fill();
  std::size_t read_gzip(char* out, std::size_t want);
  std::size_t read_zstd(char* out, std::size_t want);
  [[noreturn]] void fail(const std::string& why) const;

  struct Gzip;
  struct Zstd;
  int fd_;
  Compression format_;
  std::string path_;
  std::vector<unsigned char> input_;
  std::size_t input_at_ = 0, input_size_ = 0;  // unread input: input_[at, size)
  bool input_ended_ = false;
  bool ended_ = false;
  std::uint64_t position_ = 0;
  std::unique_ptr<Gzip> gzip_;
  std::unique_ptr<Zstd> zstd_;
};

}  // namespace gridmr
