// Where the streams of a compressed file start, found in its bytes without
// decoding: what lets the plan cut one big compressed file into many units.
#pragma once

#include <cstddef>
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
// A file that shrinks while it is searched only hides starts; decoding it
// reports the damage.
// Plain gzip (one member, or pigz's), single-stream bzip2 and xz cannot be cut.
class StreamStarts {
 public:
  // Reads the open file `fd` (not owned) with pread, a window at a time.
  StreamStarts(int fd, Compression format, const std::string& path);

  // Whether the file is of a layout above, told from its first streams: two
  // BGZF members; a bzip2 stream and another within 1 MiB; a zstd frame
  // (after any skippable ones) that ends within 32 MiB, and another after it.
  // A file of one stream is read whole, by one unit.
  bool splittable() const;
  // The first stream that starts in [from, to), if any.
  std::optional<std::uint64_t> first_in(std::uint64_t from, std::uint64_t to) const;
  // Whether a stream starts at `at`, followed by another stream (for zstd, or
  // a skippable frame) or by the end of the file.
  bool starts_at(std::uint64_t at) const;

  std::uint64_t size() const { return size_; }

 private:
  // Where the stream (or zstd skippable frame) at `at` ends, if its header
  // (and, for zstd, its block headers) say so within the file.
  // A zstd frame longer than `limit` is not walked to its end.
  std::optional<std::uint64_t> stream_end(std::uint64_t at, std::uint64_t limit = UINT64_MAX) const;
  // Up to `bytes` bytes at `at` (fewer at the end of the file).
  std::size_t read(std::uint64_t at, unsigned char* out, std::size_t bytes) const;

  int fd_;
  Compression format_;
  std::string path_;
  std::uint64_t size_ = 0;
};

// Whether the plan may cut `path` (compressed as `format`) into units:
// StreamStarts::splittable. False for a file it cannot
// open or map (reading it reports that).
bool splittable_compressed(const std::string& path, Compression format);

}  // namespace gridmr
