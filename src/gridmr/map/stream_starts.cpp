// Finds stream starts in BGZF, multistream bzip2 and multi-frame zstd files by their bytes.
#include "gridmr/map/stream_starts.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

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

std::uint32_t load_le32(const unsigned char* p) {
  return p[0] | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

// A zstd skippable frame: magic 0x184D2A50-0x184D2A5F.
bool zstd_skippable(const unsigned char* p) { return (load_le32(p) & 0xFFFFFFF0u) == 0x184D2A50u; }

// A BGZF member header (the SAM specification's layout: XLEN 6, one `BC`
// subfield of 2 bytes holding the member's size less one).
constexpr std::uint64_t kBgzfHeader = 18;
std::optional<std::uint64_t> bgzf_member_size(const unsigned char* p, std::uint64_t left) {
  if (left < kBgzfHeader || std::memcmp(p, "\x1f\x8b\x08\x04", 4) != 0) return std::nullopt;
  if (p[10] != 6 || p[11] != 0 || p[12] != 'B' || p[13] != 'C' || p[14] != 2 || p[15] != 0) {
    return std::nullopt;
  }
  const std::uint64_t size = (p[16] | std::uint64_t{p[17]} << 8) + 1;
  // The header, an empty deflate block and the 8-byte trailer at least.
  if (size < kBgzfHeader + 2 + 8 || size > left) return std::nullopt;
  return size;
}

// "BZh", a level digit, then the first block's magic (pi's digits in BCD).
bool bzip2_stream_header(const unsigned char* p, std::uint64_t left) {
  return left >= 10 && std::memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
         std::memcmp(p + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0;
}

}  // namespace

StreamStarts::StreamStarts(int fd, Compression format, const std::string& path)
    : format_(format) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw RunError(errno_message("cannot read", path, errno));
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (size_ == 0) return;
  void* const mapped = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) throw RunError(errno_message("cannot map", path, errno));
  bytes_ = static_cast<const unsigned char*>(mapped);
}

StreamStarts::~StreamStarts() {
  if (bytes_ != nullptr) ::munmap(const_cast<unsigned char*>(bytes_), size_);
}

std::optional<std::uint64_t> StreamStarts::stream_end(std::uint64_t at) const {
  const unsigned char* p = bytes_ + at;
  const std::uint64_t left = size_ - at;
  switch (format_) {
    case Compression::kGzip:
      if (const auto size = bgzf_member_size(p, left)) return at + *size;
      return std::nullopt;
    case Compression::kZstd: {
      if (left < 4) return std::nullopt;
      const std::size_t size = ZSTD_findFrameCompressedSize(p, left);
      if (ZSTD_isError(size)) return std::nullopt;
      return at + size;
    }
    default:
      return std::nullopt;  // a bzip2 stream's size is known only by decoding it
  }
}

bool StreamStarts::starts_at(std::uint64_t at) const {
  if (at >= size_) return false;
  const unsigned char* p = bytes_ + at;
  const std::uint64_t left = size_ - at;
  switch (format_) {
    case Compression::kBzip2:
      return bzip2_stream_header(p, left);
    case Compression::kGzip:
    case Compression::kZstd: {
      if (format_ == Compression::kZstd && (left < 4 || zstd_skippable(p))) return false;
      const auto end = stream_end(at);
      if (!end) return false;
      if (*end == size_) return true;
      // What follows must be another stream (for zstd, or a skippable frame).
      return stream_end(*end).has_value() &&
             (format_ == Compression::kGzip || zstd_skippable(bytes_ + *end) ||
              std::memcmp(bytes_ + *end, signature(format_).data(), 4) == 0);
    }
    default:
      return false;
  }
}

bool StreamStarts::splittable(std::uint64_t probe) const {
  if (size_ == 0) return false;
  if (format_ == Compression::kGzip && !bgzf_member_size(bytes_, size_)) return false;
  if (format_ == Compression::kBzip2 && !bzip2_stream_header(bytes_, size_)) return false;
  return first_in(1, std::min(probe, size_)).has_value();
}

std::optional<std::uint64_t> StreamStarts::first_in(std::uint64_t from, std::uint64_t to) const {
  const std::string_view sig = signature(format_);
  if (sig.empty()) return std::nullopt;
  to = std::min(to, size_);
  // Search up to where a start before `to` could still end its signature.
  const std::uint64_t limit = std::min(size_, to + sig.size() - 1);
  for (std::uint64_t at = from; at < to;) {
    const void* hit = ::memmem(bytes_ + at, limit - at, sig.data(), sig.size());
    if (hit == nullptr) return std::nullopt;
    at = static_cast<std::uint64_t>(static_cast<const unsigned char*>(hit) - bytes_);
    if (at >= to) return std::nullopt;
    if (starts_at(at)) return at;
    ++at;
  }
  return std::nullopt;
}

bool splittable_compressed(const std::string& path, Compression format) {
  if (signature(format).empty()) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool result = false;
  try {
    result = StreamStarts(fd, format, path).splittable(std::uint64_t{8} << 20);
  } catch (const RunError&) {
    result = false;
  }
  ::close(fd);
  return result;
}

}  // namespace gridmr
