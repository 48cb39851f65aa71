// Finds stream starts in BGZF, multistream bzip2 and multi-frame zstd files by their bytes.
#include "gridmr/map/stream_starts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "gridmr/errors.hpp"

namespace gridmr {

namespace {

// The bytes every stream of a format starts with, searched for first.
// BGZF: gzip magic, deflate, FLG.FEXTRA. bzip2: "BZh" (then a level digit and
// the block magic). zstd: the frame magic 0xFD2FB528, little-endian.
std::string_view signature(Compression format) {
  switch (format) {
    case Compression::kGzip:
      return {"\x1f\x8b\x08\x04", 4};
    case Compression::kBzip2:
      return "BZh";
    case Compression::kZstd:
      return {"\x28\xb5\x2f\xfd", 4};
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

// "BZh", a level digit, then the first block's magic (pi's digits in BCD).
constexpr std::size_t kBzip2Header = 10;
bool bzip2_stream_header(const unsigned char* p) {
  return std::memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
         std::memcmp(p + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0;
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
// How far the plan looks for a second stream: rank 0 probes every big file
// before the job starts, so a probe reads little.
constexpr std::uint64_t kBzip2Probe = std::uint64_t{1} << 20;
constexpr std::uint64_t kZstdProbe = std::uint64_t{32} << 20;  // of block headers walked

}  // namespace

StreamStarts::StreamStarts(int fd, Compression format, const std::string& path)
    : fd_(fd), format_(format), path_(path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw RunError(errno_message("cannot read", path, errno));
  size_ = static_cast<std::uint64_t>(st.st_size);
}

std::size_t StreamStarts::read(std::uint64_t at, unsigned char* out, std::size_t bytes) const {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(fd_, out + done, bytes - done, static_cast<off_t>(at + done));
    if (got == 0) break;  // the end of the file (it may have shrunk: decoding reports that)
    if (got < 0) {
      if (errno == EINTR) continue;
      throw RunError(errno_message("cannot read", path_, errno));
    }
    done += static_cast<std::size_t>(got);
  }
  return done;
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
    case Compression::kBzip2: {
      unsigned char head[kBzip2Header];
      return read(at, head, kBzip2Header) == kBzip2Header && bzip2_stream_header(head);
    }
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
    case Compression::kBzip2:  // a pbzip2 stream holds 900 kB of text at most
      return starts_at(0) && first_in(1, kBzip2Probe).has_value();
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

std::optional<std::uint64_t> StreamStarts::first_in(std::uint64_t from, std::uint64_t to) const {
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
