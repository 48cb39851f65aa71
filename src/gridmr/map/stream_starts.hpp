// Where the streams of a compressed file start, found in its bytes without
// decoding: what lets the plan cut one big compressed file into many units.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gridmr/map/decompress.hpp"

namespace gridmr {

// Three layouts hold streams whose starts can be told from the bytes alone:
// - BGZF `.gz` (bgzip, htslib, Picard): every gzip member carries its own
//   size in a `BC` extra field, so a candidate is checked by the member that
//   follows it;
// - multistream `.bz2` (pbzip2, Wikipedia's `-multistream` dumps): a stream
//   starts byte-aligned with `BZh1`-`BZh9` and the block magic, 10 fixed bytes;
// - multi-frame `.zst` (pzstd, `zstd --long` files joined by cat): a frame's
//   size is found by walking its block headers, and the next frame (or
//   skippable frame, or the end of the file) must follow it.
// Plain gzip (one member, or pigz's), single-stream bzip2 and xz cannot be cut.
class StreamStarts {
 public:
  // Maps the open file `fd` (not owned) for reading.
  StreamStarts(int fd, Compression format, const std::string& path);
  ~StreamStarts();
  StreamStarts(const StreamStarts&) = delete;
  StreamStarts& operator=(const StreamStarts&) = delete;

  // Whether the file starts with a stream of a layout above and, for bzip2
  // and zstd, a second stream starts within its first `probe` bytes (a
  // single stream is read whole, by one unit).
  bool splittable(std::uint64_t probe) const;
  // The first stream that starts in [from, to), if any.
  std::optional<std::uint64_t> first_in(std::uint64_t from, std::uint64_t to) const;
  // Whether a stream starts at `at`, followed by another stream (for zstd, or
  // a skippable frame) or by the end of the file.
  bool starts_at(std::uint64_t at) const;

  std::uint64_t size() const { return size_; }

 private:
  // Where the stream (or zstd skippable frame) at `at` ends, if a stream of
  // the file's layout starts at `at`.
  std::optional<std::uint64_t> stream_end(std::uint64_t at) const;

  Compression format_;
  const unsigned char* bytes_ = nullptr;
  std::uint64_t size_ = 0;
};

// Whether the plan may cut `path` (compressed as `format`) into units:
// StreamStarts::splittable over its first 8 MiB. False for a file it cannot
// open or map (reading it reports that).
bool splittable_compressed(const std::string& path, Compression format);

}  // namespace gridmr
