// Where the streams of a compressed file start, found in its bytes without
// decoding: what lets the plan cut one big compressed file into many units.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gridmr/map/decompress.hpp"

namespace gridmr {

// Four layouts hold pieces whose starts can be told from the bytes alone:
// - BGZF `.gz` (bgzip, htslib, Picard): every gzip member carries its own
//   size in a `BC` extra field, so a candidate is checked by the member that
//   follows it;
// - any `.bz2` (bzip2, lbzip2, pbzip2, Wikipedia's dumps): every block of a
//   stream starts with a 48-bit magic at any bit, and holds its own CRC, so
//   the file is cut between blocks as Hadoop does (bzip2_blocks);
// - multi-frame `.zst` (pzstd, `zstd --long` files joined by cat): a frame's
//   size is found by walking its block headers, and the next frame (or
//   skippable frame, or the end of the file) must follow it;
// - `.xz` of several blocks (`xz -T0`, the default from xz 5.6; files joined
//   by cat): each stream's index, at its end, lists where its blocks are
//   (xz_blocks).
// A file that shrinks while it is searched only hides starts; decoding it
// reports the damage. Plain gzip (one member, or pigz's), a single zstd frame
// and an xz file of one block cannot be cut. Offsets are bytes; a bzip2 block
// starts "at" the byte that holds its first bit.
class StreamStarts {
 public:
  // Reads the open file `fd` (not owned) with pread, a window at a time.
  StreamStarts(int fd, Compression format, const std::string& path);

  // Whether the file is of a layout above, told from its first streams: two
  // BGZF members; a bzip2 stream header and block; a zstd frame (after any
  // skippable ones) that ends within 32 MiB, and another after it; xz indexes
  // that list two blocks or more. A gzip or zstd file of one stream, or an xz
  // file of one block, is read whole, by one unit.
  bool splittable() const;
  // The first stream (bzip2, xz: block) that starts in [from, to), if any.
  std::optional<std::uint64_t> first_in(std::uint64_t from, std::uint64_t to) const;
  // Whether a stream starts at `at`, followed by another stream (for zstd, or
  // a skippable frame) or by the end of the file; for bzip2 and xz, a block.
  bool starts_at(std::uint64_t at) const;

  std::uint64_t size() const { return size_; }

  // A bzip2 block's magic, or a stream's end magic, at a bit of the file.
  struct Bzip2Mark {
    std::uint64_t bit;
    bool stream_end;
  };
  // The first bzip2 mark at a bit in [from, to), if any.
  std::optional<Bzip2Mark> bzip2_mark(std::uint64_t from, std::uint64_t to) const;
  // The bit of the first bzip2 block magic in [from, to), if any.
  std::optional<std::uint64_t> bzip2_block(std::uint64_t from, std::uint64_t to) const;

  // An xz block, as its stream's index lists it.
  struct XzBlock {
    std::uint64_t offset;      // of its header in the file
    std::uint64_t total_size;  // header, data, padding and check
    std::uint64_t unpadded_size;
    std::uint64_t text_size;  // uncompressed
    std::uint32_t check;      // its stream's check (lzma_check)
  };
  // The blocks of every stream of an xz file, in file order; null if the
  // file's indexes cannot be read (decoding it reports why). Read once, from
  // the end of each stream.
  const std::vector<XzBlock>* xz_blocks() const;

  // Up to `bytes` bytes at `at` (fewer at the end of the file).
  std::size_t read(std::uint64_t at, unsigned char* out, std::size_t bytes) const;

 private:
  // Where the stream (or zstd skippable frame) at `at` ends, if its header
  // (and, for zstd, its block headers) say so within the file.
  // A zstd frame longer than `limit` is not walked to its end.
  std::optional<std::uint64_t> stream_end(std::uint64_t at, std::uint64_t limit = UINT64_MAX) const;

  int fd_;
  Compression format_;
  std::string path_;
  std::uint64_t size_ = 0;
  mutable bool xz_read_ = false;
  mutable std::optional<std::vector<XzBlock>> xz_blocks_;
};

// A bzip2 file read from the block that starts in byte `begin` (the first
// block when 0) to its end, one block at a time: each block becomes a stream
// of its own ("BZh9", the block's bits moved to a byte boundary, an end magic
// and the block's CRC as the stream's), so libbz2 decodes it and checks its
// CRC, and a unit's text can stop between blocks. What is not checked: the
// CRC over a whole stream's blocks (no unit sees them all), and that a block
// fits its stream's level. A 48-bit block magic can turn up by chance inside
// compressed data (about once per 16 TiB); then the block cut there fails its
// CRC and the run stops with an error, never with a wrong text.
std::unique_ptr<StreamSource> bzip2_blocks(std::shared_ptr<const StreamStarts> starts,
                                           std::uint64_t begin);

// An xz file read from the block at `begin` (the first when 0) to its end,
// one block at a time, each as a stream of its own: a stream header with the
// block's check, the block's bytes as they are, and an index and footer for
// that one block, so liblzma checks the block's check and both sizes the
// index gave. Its first stream throws Damaged if the file's indexes cannot be
// read.
std::unique_ptr<StreamSource> xz_blocks(std::shared_ptr<const StreamStarts> starts,
                                        std::uint64_t begin);

// Whether the plan may cut `path` (compressed as `format`) into units:
// StreamStarts::splittable. False for a file it cannot
// open or map (reading it reports that).
bool splittable_compressed(const std::string& path, Compression format);

}  // namespace gridmr
