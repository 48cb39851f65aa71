// Compressed input files (gzip, zstd, bzip2, xz), read as the text they hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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

// Why compressed data cannot be decoded, thrown by decoders and stream
// sources; the Decompressor turns it into a RunError naming the file.
struct Damaged {
  std::string why;
};

// Why a file that ends inside a stream cannot be read.
inline constexpr const char* kCutShort = "the file ends inside compressed data (cut short?)";

// Where a Decompressor's streams come from when they are not the file's bytes
// as they stand: a bzip2 or xz file cut between its blocks gives each block as
// a stream of its own (bzip2_blocks, xz_blocks: stream_starts.hpp).
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // The next stream's bytes into `out` (replaced), and in `next_at` the file
  // offset where the stream after it starts (the file's size after the last);
  // false when none is left. Throws Damaged.
  virtual bool next(std::vector<unsigned char>& out, std::uint64_t& next_at) = 0;
};

// Streams the decompressed bytes of an open file, front to back. Errors (data
// that is not of the format, a failed check, a file that ends inside a
// stream) are RunErrors naming the file.
class Decompressor {
 public:
  // Reads the compressed bytes [begin, end) of `fd` (not owned; fewer if the
  // file ends first), which must start with a stream and, for a whole text,
  // end with one.
  Decompressor(int fd, Compression format, std::string path, std::uint64_t begin = 0,
               std::uint64_t end = UINT64_MAX);
  // Reads the streams `source` gives, as the `format` they are in.
  Decompressor(Compression format, std::string path, std::unique_ptr<StreamSource> source);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Up to `want` bytes into `out` (fewer only at the end or a stop); 0 at the end.
  std::size_t read(char* out, std::size_t want);
  // Once `bytes` of text have been read and a core is spare (SpareCores),
  // decodes ahead on a thread of its own, a few blocks before read() (until
  // the text ends or stops): one core decodes while the caller's maps. For a
  // unit read by one thread while the others have none left, above all a file
  // that cannot be cut, which would otherwise decode and map on one core.
  void decode_ahead_after(std::uint64_t bytes) { ahead_after_ = bytes; }
  // Decompressed bytes given so far.
  std::uint64_t position() const { return position_; }

  // Stops the text (read() gives 0) where a stream ends at a compressed byte
  // x >= offset for which may_stop(x) holds: the end of a work unit's streams.
  void stop_at(std::uint64_t offset, std::function<bool(std::uint64_t)> may_stop);
  // Reads on past the stop (to finish a unit's last record); false if the
  // text had not stopped there, but ended.
  bool pass_stop();

  // One format's decoder (decompress.cpp).
  class Codec;

 private:
  // The thread that decodes ahead, and the blocks it fills (decompress.cpp).
  class Ahead;
  // Makes the format's decoder (one stream at a time for a source).
  void start_codec();
  // read() without the thread: up to `want` bytes decoded into `out`.
  std::size_t decode(char* out, std::size_t want);
  // Refills the input buffer; false at the end of the file.
  bool fill();
  // A RunError naming the file and its format.
  [[noreturn]] void fail(const std::string& why) const;

  int fd_;
  Compression format_;
  std::string path_;
  std::unique_ptr<Codec> codec_;
  std::unique_ptr<StreamSource> source_;  // null: the file's bytes
  std::uint64_t source_next_ = 0;         // where the source's stream after this one starts
  std::vector<unsigned char> input_;
  std::size_t input_at_ = 0, input_size_ = 0;  // unread input: input_[at, size)
  std::uint64_t input_offset_;                 // the file offset of input_[0]
  std::uint64_t input_end_;                    // read no further than this file offset
  bool ended_ = false;
  bool input_ended_ = false;
  std::uint64_t position_ = 0;
  std::uint64_t stop_ = UINT64_MAX;
  std::function<bool(std::uint64_t)> may_stop_;
  bool stopped_ = false;
  std::uint64_t ahead_after_ = UINT64_MAX;
  // Declared last, so that its thread ends before the state it decodes with goes.
  std::unique_ptr<Ahead> ahead_;
};

}  // namespace gridmr
