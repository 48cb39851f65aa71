// Compressed input files (gzip, zstd, bzip2, xz), read as the text they hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gridmr {

// What a file's name says it holds: `.gz` gzip, `.zst` zstd, `.bz2` bzip2,
// `.xz` xz; each may hold several streams one after another (`cat a.gz b.gz`,
// pigz, bgzip, pbzip2, Wikipedia's multistream dumps), read as one text.
enum class Compression { kNone, kGzip, kZstd, kBzip2, kXz };
Compression compression_of(std::string_view path);

// Streams the decompressed bytes of an open file, front to back. Errors (data
// that is not of the format, a failed check, a file that ends inside a
// stream) are RunErrors naming the file.
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

  // One format's decoder (decompress.cpp).
  class Codec;

 private:
  // Refills the input buffer; false at the end of the file.
  bool fill();
  // A RunError naming the file and its format.
  [[noreturn]] void fail(const std::string& why) const;

  int fd_;
  Compression format_;
  std::string path_;
  std::unique_ptr<Codec> codec_;
  std::vector<unsigned char> input_;
  std::size_t input_at_ = 0, input_size_ = 0;  // unread input: input_[at, size)
  bool ended_ = false;
  bool input_ended_ = false;
  std::uint64_t position_ = 0;
};

}  // namespace gridmr
