// Finds stream starts in BGZF and multi-frame zstd files by their bytes, block starts in bzip2
// files by their magic, and in xz files by their indexes.
#include "gridmr/map/stream_starts.hpp"

#include <fcntl.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/errors.hpp"

namespace gridmr {

namespace {

// The bytes every stream of a format starts with, searched for first.
// BGZF: gzip magic, deflate, FLG.FEXTRA. bzip2: "BZh" (then a level digit and
// the block magic). zstd: the frame magic 0xFD2FB528, little-endian. xz: its
// stream header's magic (its blocks are found by the indexes instead).
std::string_view signature(Compression format) {
  switch (format) {
    case Compression::kGzip:
      return {"\x1f\x8b\x08\x04", 4};
    case Compression::kBzip2:
      return "BZh";
    case Compression::kZstd:
      return {"\x28\xb5\x2f\xfd", 4};
    case Compression::kXz:
      return {"\xfd\x37\x7a\x58\x5a\x00", 6};
    default:
      return {};
  }
}

std::uint32_t load_le(const unsigned char* p, int bytes) {
  std::uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | p[i];
  return value;
}

// A zstd skippable frame: magic 0x184D2A50-0x184D2A5F.
bool zstd_skippable(const unsigned char* p) { return (load_le(p, 4) & 0xFFFFFFF0u) == 0x184D2A50u; }

// A BGZF member header (the SAM specification's layout: XLEN 6, one `BC`
// subfield of 2 bytes holding the member's size less one): the member's size.
constexpr std::size_t kBgzfHeader = 18;
std::optional<std::uint64_t> bgzf_member_size(const unsigned char* p) {
  if (std::memcmp(p, "\x1f\x8b\x08\x04", 4) != 0) return std::nullopt;
  if (p[10] != 6 || p[11] != 0 || p[12] != 'B' || p[13] != 'C' || p[14] != 2 || p[15] != 0) {
    return std::nullopt;
  }
  const std::uint64_t size = load_le(p + 16, 2) + 1;
  // The header, an empty deflate block and the 8-byte trailer at least.
  if (size < kBgzfHeader + 2 + 8) return std::nullopt;
  return size;
}

// A bzip2 block starts with pi's digits in BCD, a stream's end with sqrt(pi)'s,
// 48 bits each at any bit; each is followed by a 32-bit CRC (the block's, or
// the stream's over its blocks).
constexpr std::uint64_t kBzip2Block = 0x314159265359, kBzip2End = 0x177245385090;
constexpr std::uint64_t kMask48 = (std::uint64_t{1} << 48) - 1;

// "BZh", a level digit, then `magic` (big-endian, byte-aligned).
bool bzip2_stream_then(const unsigned char* p, std::uint64_t magic) {
  if (std::memcmp(p, "BZh", 3) != 0 || p[3] < '1' || p[3] > '9') return false;
  std::uint64_t bits = 0;
  for (int i = 4; i < 10; ++i) bits = bits << 8 | p[i];
  return bits == magic;
}
// A stream header and its first block's magic.
constexpr std::size_t kBzip2Header = 10;
bool bzip2_stream_header(const unsigned char* p) { return bzip2_stream_then(p, kBzip2Block); }
// An empty stream: a stream header, the end magic and a CRC of 0.
constexpr std::size_t kBzip2Empty = 14;
bool bzip2_empty_stream(const unsigned char* p) { return bzip2_stream_then(p, kBzip2End); }

// The 48 bits at `bit` of `data` (which holds them).
std::uint64_t bits48(const unsigned char* data, std::size_t bytes, std::uint64_t bit) {
  const std::size_t at = bit / 8;
  std::uint64_t word = 0;
  if (at + 8 <= bytes) {
    std::memcpy(&word, data + at, 8);
    word = __builtin_bswap64(word);
  } else {
    for (std::size_t i = at; i < at + 8; ++i) word = word << 8 | (i < bytes ? data[i] : 0);
  }
  return word >> (16 - bit % 8) & kMask48;
}

// For each byte value, the shifts s (bit s) at which a magic starting at bit
// s of the byte before would hold this byte whole: a magic at bit 8i+s of
// `data` covers byte i+1 with its bits 8-s..15-s. Most bytes rule out every
// shift, so the search looks at one byte per position.
constexpr std::array<std::uint8_t, 256> kBzip2Shifts = [] {
  std::array<std::uint8_t, 256> shifts{};
  for (int s = 0; s < 8; ++s) {
    for (const std::uint64_t magic : {kBzip2Block, kBzip2End}) {
      shifts[magic >> (32 + s) & 0xFF] |= static_cast<std::uint8_t>(1 << s);
    }
  }
  return shifts;
}();

// The first bzip2 mark at a bit >= `from` of `data` that lies whole in it.
std::optional<StreamStarts::Bzip2Mark> find_bzip2_mark(const unsigned char* data, std::size_t bytes,
                                                       std::uint64_t from) {
  for (std::size_t i = from / 8; i + 6 < bytes; ++i) {
    for (unsigned shifts = kBzip2Shifts[data[i + 1]]; shifts != 0; shifts &= shifts - 1) {
      const std::uint64_t bit =
          std::uint64_t{8} * i + static_cast<unsigned>(std::countr_zero(shifts));
      if (bit < from || bit + 48 > std::uint64_t{8} * bytes) continue;
      const std::uint64_t bits = bits48(data, bytes, bit);
      if (bits == kBzip2Block || bits == kBzip2End) {
        return StreamStarts::Bzip2Mark{bit, bits == kBzip2End};
      }
    }
  }
  return std::nullopt;
}

// The size of a zstd frame header (RFC 8878 3.1.1.1: the magic, the
// descriptor byte and the fields it announces), or nothing if its reserved
// bit is set.
std::optional<std::size_t> zstd_header_size(unsigned char descriptor) {
  if (descriptor & 0x08) return std::nullopt;
  const bool single_segment = descriptor & 0x20;
  constexpr std::size_t kDictionaryId[] = {0, 1, 2, 4};
  constexpr std::size_t kContentSize[] = {0, 2, 4, 8};
  const std::size_t content_flag = descriptor >> 6;
  const std::size_t content = content_flag == 0 && single_segment ? 1 : kContentSize[content_flag];
  return 4 + 1 + (single_segment ? 0 : 1) + kDictionaryId[descriptor & 3] + content;
}

constexpr std::uint32_t kZstdMaxBlock = 128 << 10;     // a block's bytes at most
constexpr std::size_t kWindow = std::size_t{1} << 20;  // bytes searched per read
// How far the plan walks a zstd frame: rank 0 probes every big file before
// the job starts, so a probe reads little.
constexpr std::uint64_t kZstdProbe = std::uint64_t{32} << 20;  // of block headers walked

}  // namespace

StreamStarts::StreamStarts(int fd, Compression format, const std::string& path)
    : fd_(fd), format_(format), path_(path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw RunError(errno_message("cannot read", path, errno));
  size_ = static_cast<std::uint64_t>(st.st_size);
}

std::size_t StreamStarts::read(std::uint64_t at, unsigned char* out, std::size_t bytes) const {
  // Short at the end of the file (it may have shrunk: decoding reports that).
  const ssize_t got = pread_fully(fd_, out, bytes, at);
  if (got < 0) throw RunError(errno_message("cannot read", path_, errno));
  return static_cast<std::size_t>(got);
}

std::optional<std::uint64_t> StreamStarts::stream_end(std::uint64_t at, std::uint64_t limit) const {
  unsigned char head[kBgzfHeader] = {};
  switch (format_) {
    case Compression::kGzip: {
      if (read(at, head, kBgzfHeader) < kBgzfHeader) return std::nullopt;
      const auto size = bgzf_member_size(head);
      if (!size || *size > size_ - at) return std::nullopt;
      return at + *size;
    }
    case Compression::kZstd: {
      if (read(at, head, 8) < 8) return std::nullopt;
      if (zstd_skippable(head)) {
        const std::uint64_t end = at + 8 + load_le(head + 4, 4);
        return end <= size_ ? std::optional(end) : std::nullopt;
      }
      if (std::memcmp(head, signature(format_).data(), 4) != 0) return std::nullopt;
      const auto header = zstd_header_size(head[4]);
      if (!header) return std::nullopt;
      // Walk the block headers (3 bytes: last-block bit, type, size) to the last block.
      std::uint64_t block = at + *header;
      for (;;) {
        unsigned char bytes[3];
        if (read(block, bytes, 3) < 3) return std::nullopt;
        const std::uint32_t word = load_le(bytes, 3);
        const std::uint32_t type = word >> 1 & 3, size = word >> 3;
        if (type == 3 || size > kZstdMaxBlock) return std::nullopt;  // reserved, or too big
        block += 3 + (type == 1 ? 1 : size);                         // RLE: one byte
        if (block > size_ || block - at > limit) return std::nullopt;
        if (word & 1) break;
      }
      const std::uint64_t end = block + (head[4] & 0x04 ? 4 : 0);  // the content checksum
      return end <= size_ ? std::optional(end) : std::nullopt;
    }
    default:
      return std::nullopt;  // a bzip2 stream's size is known only by decoding it
  }
}

bool StreamStarts::starts_at(std::uint64_t at) const {
  if (at >= size_) return false;
  switch (format_) {
    case Compression::kBzip2:
      return first_in(at, at + 1).has_value();
    case Compression::kXz:
      return first_in(at, at + 1) == at;
    case Compression::kGzip:
    case Compression::kZstd: {
      unsigned char magic[4];
      if (read(at, magic, 4) < 4 || std::memcmp(magic, signature(format_).data(), 4) != 0) {
        return false;
      }
      const auto end = stream_end(at);
      if (!end) return false;
      if (*end == size_) return true;
      // What follows must be another stream (for zstd, or a skippable frame).
      return stream_end(*end).has_value();
    }
    default:
      return false;
  }
}

bool StreamStarts::splittable() const {
  if (size_ == 0) return false;
  switch (format_) {
    case Compression::kGzip: {  // a BGZF member at the start, and another after it
      const auto end = stream_end(0);
      return end && *end < size_ && stream_end(*end).has_value();
    }
    case Compression::kBzip2: {  // every bzip2 file is cut between its blocks
      unsigned char head[kBzip2Header];
      return read(0, head, kBzip2Header) == kBzip2Header && bzip2_stream_header(head);
    }
    case Compression::kXz:
      return xz_blocks() != nullptr && xz_blocks()->size() >= 2;
    case Compression::kZstd:  // past any skippable frames, a frame, and another after it
      for (std::uint64_t at = 0;;) {
        unsigned char magic[4];
        const auto end = stream_end(at, kZstdProbe);
        if (!end || *end >= size_ || read(at, magic, 4) < 4) return false;
        if (!zstd_skippable(magic)) return stream_end(*end).has_value();
        at = *end;
      }
    default:
      return false;
  }
}

std::optional<StreamStarts::Bzip2Mark> StreamStarts::bzip2_mark(std::uint64_t from,
                                                                std::uint64_t to) const {
  to = std::min(to, size_ * 8);
  std::vector<unsigned char> window;
  // Windows overlap by 6 bytes: a mark spans 7 at most.
  const std::uint64_t last = (to + 7) / 8 + 6;  // the last byte a mark before `to` may touch
  for (std::uint64_t base = from / 8; base * 8 < to;) {
    const auto want =
        static_cast<std::size_t>(std::min({std::uint64_t{kWindow}, size_ - base, last - base}));
    window.resize(want);
    const std::size_t got = read(base, window.data(), want);
    const std::uint64_t first = base * 8;
    if (auto mark = find_bzip2_mark(window.data(), got, from > first ? from - first : 0)) {
      mark->bit += first;
      return mark->bit < to ? mark : std::nullopt;
    }
    if (got < want || got < 7) return std::nullopt;
    base += got - 6;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> StreamStarts::bzip2_block(std::uint64_t from, std::uint64_t to) const {
  for (;;) {  // a stream's end magic is no block
    const auto mark = bzip2_mark(from, to);
    if (!mark) return std::nullopt;
    if (!mark->stream_end) return mark->bit;
    from = mark->bit + 1;
  }
}

namespace {

// The index of the first xz block at or after byte `from` (the count if none).
std::size_t first_xz_block(const std::vector<StreamStarts::XzBlock>& blocks, std::uint64_t from) {
  const auto block = std::lower_bound(
      blocks.begin(), blocks.end(), from,
      [](const StreamStarts::XzBlock& b, std::uint64_t offset) { return b.offset < offset; });
  return static_cast<std::size_t>(block - blocks.begin());
}

}  // namespace

std::optional<std::uint64_t> StreamStarts::first_in(std::uint64_t from, std::uint64_t to) const {
  if (format_ == Compression::kXz) {
    if (xz_blocks() == nullptr) return std::nullopt;
    const std::vector<XzBlock>& blocks = *xz_blocks();
    const std::size_t block = first_xz_block(blocks, from);
    if (block == blocks.size() || blocks[block].offset >= to) return std::nullopt;
    return blocks[block].offset;
  }
  if (format_ == Compression::kBzip2) {
    const auto bit = bzip2_block(from * 8, std::min(to, size_) * 8);
    return bit ? std::optional<std::uint64_t>(*bit / 8) : std::nullopt;
  }
  const std::string_view sig = signature(format_);
  if (sig.empty()) return std::nullopt;
  to = std::min(to, size_);
  // Search up to where a start before `to` could still end its signature, a
  // window at a time; windows overlap by the signature less a byte.
  const std::uint64_t limit = std::min(size_, to + sig.size() - 1);
  std::vector<unsigned char> window;
  for (std::uint64_t base = from; base < to;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kWindow, limit - base));
    window.resize(std::max(window.size(), want));
    const std::size_t got = read(base, window.data(), want);
    for (std::size_t at = 0; at + sig.size() <= got;) {
      const void* hit = ::memmem(window.data() + at, got - at, sig.data(), sig.size());
      if (hit == nullptr) break;
      at = static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - window.data());
      if (base + at >= to) return std::nullopt;
      if (starts_at(base + at)) return base + at;
      ++at;
    }
    if (got < want || got < sig.size()) return std::nullopt;
    base += got - (sig.size() - 1);
  }
  return std::nullopt;
}

namespace {

// Appends bits to a byte vector, most significant first.
class BitWriter {
 public:
  explicit BitWriter(std::vector<unsigned char>& out) : out_(out) {}
  // The low `count` (<= 48) bits of `value`.
  void put(std::uint64_t value, int count) {
    pending_ = pending_ << count | (value & ((std::uint64_t{1} << count) - 1));
    for (held_ += count; held_ >= 8; held_ -= 8) {
      out_.push_back(static_cast<unsigned char>(pending_ >> (held_ - 8)));
    }
  }
  // Pads the last byte with zero bits.
  void flush() {
    if (held_ > 0) put(0, 8 - held_);
  }

 private:
  std::vector<unsigned char>& out_;
  std::uint64_t pending_ = 0;
  int held_ = 0;
};

class Bzip2BlockSource final : public StreamSource {
 public:
  Bzip2BlockSource(std::shared_ptr<const StreamStarts> starts, std::uint64_t begin)
      : starts_(std::move(starts)), block_(starts_->bzip2_block(begin * 8, UINT64_MAX)) {}

  bool next(std::vector<unsigned char>& out, std::uint64_t& next_at) override {
    if (!block_) return false;
    const std::uint64_t start = *block_;
    // The block's bits, up to the next mark: another block, or its stream's end.
    const std::uint64_t base = start / 8;
    std::size_t got = 0;
    std::optional<StreamStarts::Bzip2Mark> end;
    for (std::size_t want = kWindow; !end; want *= 2) {
      raw_.resize(want);
      got = starts_->read(base, raw_.data(), want);
      end = find_bzip2_mark(raw_.data(), got, start % 8 + 48);
      if (!end && got < want) throw Damaged{kCutShort};
    }
    const std::uint64_t bits = end->bit - start % 8;  // of the block, from start
    // A stream of one block, whose CRC is also the stream's: combined CRCs
    // start at 0 and take each block's CRC after a 1-bit rotation.
    out.assign({'B', 'Z', 'h', '9'});
    const std::uint64_t crc = bits48(raw_.data(), got, start % 8 + 48) >> 16;
    const unsigned shift = start % 8;
    const std::size_t whole = static_cast<std::size_t>(bits / 8);
    out.reserve(4 + whole + 12);
    for (std::size_t i = 0; i < whole; ++i) {
      out.push_back(static_cast<unsigned char>(
          shift == 0 ? raw_[i] : (raw_[i] << shift | raw_[i + 1] >> (8 - shift))));
    }
    BitWriter writer(out);
    const int rest = static_cast<int>(bits % 8);
    if (rest > 0) {
      writer.put(bits48(raw_.data(), got, start % 8 + bits - rest) >> (48 - rest), rest);
    }
    writer.put(kBzip2End, 48);
    writer.put(crc, 32);
    writer.flush();
    if (!end->stream_end) {
      block_ = base * 8 + end->bit;
      next_at = *block_ / 8;
    } else {
      after_stream(base * 8 + end->bit, next_at);
    }
    return true;
  }

 private:
  // Finds the block after a stream that ends (its end magic) at bit `end`:
  // the next stream's first, past any empty streams, or none at the file's end.
  void after_stream(std::uint64_t end, std::uint64_t& next_at) {
    const std::uint64_t size = starts_->size();
    std::uint64_t at = (end + 48 + 32 + 7) / 8;  // past the CRC and padding
    if (at > size) throw Damaged{kCutShort};
    for (;;) {
      if (at == size) {
        block_.reset();
        next_at = size;
        return;
      }
      unsigned char head[kBzip2Empty] = {};
      const std::size_t got = starts_->read(at, head, kBzip2Empty);
      if (got >= kBzip2Header && bzip2_stream_header(head)) {
        block_ = (at + 4) * 8;
        next_at = at + 4;
        return;
      }
      if (got < kBzip2Empty || !bzip2_empty_stream(head)) {
        throw Damaged{"data after the last stream is not bzip2"};
      }
      at += kBzip2Empty;
    }
  }

  std::shared_ptr<const StreamStarts> starts_;
  std::optional<std::uint64_t> block_;  // the bit where the next block starts
  std::vector<unsigned char> raw_;      // the file's bytes from the block's first
};

// Compressed bytes of an xz block given per call.
constexpr std::size_t kXzPiece = std::size_t{256} << 10;

class XzBlockSource final : public StreamSource {
 public:
  XzBlockSource(std::shared_ptr<const StreamStarts> starts, std::uint64_t begin)
      : starts_(std::move(starts)), blocks_(starts_->xz_blocks()) {
    if (blocks_ != nullptr) next_ = first_xz_block(*blocks_, begin);
  }

  // A block's stream comes in pieces: its header, the block's bytes in
  // pieces of kXzPiece, then its index and footer.
  bool next(std::vector<unsigned char>& out, std::uint64_t& next_at) override {
    if (blocks_ == nullptr) throw Damaged{"its index cannot be read (cut short?)"};
    if (next_ == blocks_->size()) return false;
    const StreamStarts::XzBlock& block = (*blocks_)[next_];
    next_at = next_ + 1 < blocks_->size() ? (*blocks_)[next_ + 1].offset : starts_->size();
    lzma_stream_flags flags{};
    flags.version = 0;
    flags.check = static_cast<lzma_check>(block.check);
    if (given_ == kHeader) {
      out.resize(LZMA_STREAM_HEADER_SIZE);
      if (lzma_stream_header_encode(&flags, out.data()) != LZMA_OK) {
        throw Damaged{"a block's check is unknown"};
      }
      given_ = 0;
    } else if (given_ < block.total_size) {
      const auto want =
          static_cast<std::size_t>(std::min<std::uint64_t>(kXzPiece, block.total_size - given_));
      out.resize(want);
      if (starts_->read(block.offset + given_, out.data(), want) < want) throw Damaged{kCutShort};
      given_ += want;
    } else {  // an index of the one block, and the footer that gives its size
      lzma_index* index = lzma_index_init(nullptr);
      if (index == nullptr) throw Damaged{"liblzma cannot start"};
      const lzma_ret appended =
          lzma_index_append(index, nullptr, block.unpadded_size, block.text_size);
      const auto size = static_cast<std::size_t>(lzma_index_size(index));
      out.resize(size + LZMA_STREAM_HEADER_SIZE);
      std::size_t at = 0;
      const lzma_ret encoded =
          appended == LZMA_OK ? lzma_index_buffer_encode(index, out.data(), &at, size) : appended;
      lzma_index_end(index, nullptr);
      flags.backward_size = size;
      if (encoded != LZMA_OK || lzma_stream_footer_encode(&flags, out.data() + size) != LZMA_OK) {
        throw Damaged{"its index lists a block liblzma cannot describe"};
      }
      given_ = kHeader;
      ++next_;
    }
    return true;
  }

 private:
  static constexpr std::uint64_t kHeader = UINT64_MAX;  // given_: the stream header is next

  std::shared_ptr<const StreamStarts> starts_;
  const std::vector<StreamStarts::XzBlock>* blocks_;  // starts_'s; null if unreadable
  std::size_t next_ = 0;                              // the block being given
  std::uint64_t given_ = kHeader;                     // of its bytes
};

}  // namespace

std::unique_ptr<StreamSource> xz_blocks(std::shared_ptr<const StreamStarts> starts,
                                        std::uint64_t begin) {
  return std::make_unique<XzBlockSource>(std::move(starts), begin);
}

std::unique_ptr<StreamSource> bzip2_blocks(std::shared_ptr<const StreamStarts> starts,
                                           std::uint64_t begin) {
  return std::make_unique<Bzip2BlockSource>(std::move(starts), begin);
}

const std::vector<StreamStarts::XzBlock>* StreamStarts::xz_blocks() const {
  if (xz_read_) return xz_blocks_ ? &*xz_blocks_ : nullptr;
  xz_read_ = true;
  // liblzma's file-info decoder reads each stream's footer and index from the
  // end of the file back, asking for the bytes it needs where it needs them.
  lzma_stream xz = LZMA_STREAM_INIT;
  lzma_index* index = nullptr;
  if (format_ != Compression::kXz || size_ == 0 ||
      lzma_file_info_decoder(&xz, &index, UINT64_MAX, size_) != LZMA_OK) {
    return nullptr;
  }
  std::vector<unsigned char> buffer(std::size_t{64} << 10);
  std::uint64_t at = 0;
  lzma_ret status = LZMA_OK;
  while (status == LZMA_OK || status == LZMA_SEEK_NEEDED) {
    if (status == LZMA_SEEK_NEEDED) {
      at = xz.seek_pos;
      xz.avail_in = 0;
    }
    if (xz.avail_in == 0) {
      const std::size_t got = read(at, buffer.data(), buffer.size());
      if (got == 0) break;  // the file ended early (it shrank)
      xz.next_in = buffer.data();
      xz.avail_in = got;
      at += got;
    }
    status = lzma_code(&xz, LZMA_RUN);
  }
  if (status == LZMA_STREAM_END) {
    xz_blocks_.emplace();
    lzma_index_iter block;
    lzma_index_iter_init(&block, index);
    while (!lzma_index_iter_next(&block, LZMA_INDEX_ITER_BLOCK)) {
      xz_blocks_->push_back({block.block.compressed_file_offset, block.block.total_size,
                             block.block.unpadded_size, block.block.uncompressed_size,
                             static_cast<std::uint32_t>(block.stream.flags->check)});
    }
    lzma_index_end(index, nullptr);
  }
  lzma_end(&xz);
  return xz_blocks_ ? &*xz_blocks_ : nullptr;
}

bool splittable_compressed(const std::string& path, Compression format) {
  if (signature(format).empty()) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool result = false;
  try {
    result = StreamStarts(fd, format, path).splittable();
  } catch (const RunError&) {
    result = false;
  }
  ::close(fd);
  return result;
}

}  // namespace gridmr
