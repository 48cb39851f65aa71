// Reads the records of one text work unit: the file handling and the chunk scan behind TextReader.
#include "gridmr/detail/text_reader.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/map/decompress.hpp"
#include "gridmr/map/stream_starts.hpp"
#include "gridmr/map/tokenizer.hpp"
#include "gridmr/simd/kernels.hpp"

namespace gridmr {

namespace {

// A compressed unit decodes ahead, when a core is spare, once this much of its
// text is read: a small one is over before a thread would pay.
constexpr std::uint64_t kDecodeAheadAfter = std::uint64_t{1} << 20;

// GRIDMR_DEBUG_NO_DECODE_AHEAD=1 decodes in the mapping thread only (bench/decode_ahead.sh
// compares).
bool decodes_ahead() {
  static const bool ahead = [] {
    const char* off = std::getenv("GRIDMR_DEBUG_NO_DECODE_AHEAD");
    return off == nullptr || *off == '\0' || *off == '0';
  }();
  return ahead;
}

}  // namespace

void TextReader::open(const std::string& path, const WorkUnit& unit) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw RunError(errno_message("cannot open", path, errno));
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  skip_first_ = false;
  if (compression_of(path) == Compression::kNone) return;
  open_compressed(unit);
  if (decodes_ahead()) decompressor_->decode_ahead_after(kDecodeAheadAfter);
}

void TextReader::open_compressed(const WorkUnit& unit) {
  const Compression format = compression_of(path_);
  auto starts = std::make_shared<const StreamStarts>(fd_, format, path_);
  if (unit.begin == 0 && unit.end >= starts->size()) {
    decompressor_ = std::make_shared<Decompressor>(fd_, format, path_);  // the whole file
    return;
  }
  // A unit reads the streams (bzip2, xz: blocks) that start in it: from the
  // first, up to where one ends at or past the unit's end and the next can be
  // found as a unit's first. A gzip or zstd file starts with a stream; bzip2
  // and xz blocks follow headers.
  const bool by_blocks = format == Compression::kBzip2 || format == Compression::kXz;
  const std::optional<std::uint64_t> first = unit.begin == 0 && !by_blocks
                                                 ? std::optional<std::uint64_t>(0)
                                                 : starts->first_in(unit.begin, unit.end);
  if (!first && unit.begin == 0 && format == Compression::kXz && starts->xz_blocks() == nullptr) {
    // The first unit reports an xz file whose indexes cannot be read.
    decompressor_ = std::make_shared<Decompressor>(format, path_, xz_blocks(starts, 0));
    return;
  }
  if (!first) {  // no stream starts in the unit: no text
    decompressor_ = std::make_shared<Decompressor>(fd_, format, path_, 0, 0);
    return;
  }
  // Its first record is the unit's before it, which reads on to finish it,
  // unless its text is the file's first.
  skip_first_ = by_blocks ? *first != starts->first_in(0, starts->size()) : *first > 0;
  if (by_blocks) {
    auto source =
        format == Compression::kBzip2 ? bzip2_blocks(starts, *first) : xz_blocks(starts, *first);
    decompressor_ = std::make_shared<Decompressor>(format, path_, std::move(source));
  } else {
    decompressor_ = std::make_shared<Decompressor>(fd_, format, path_, *first);
  }
  decompressor_->stop_at(unit.end, [starts](std::uint64_t at) {
    return at >= starts->size() || starts->starts_at(at);
  });
}

void TextReader::close() {
  decompressor_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool TextReader::compressed(const std::string& path) {
  return compression_of(path) != Compression::kNone;
}

bool TextReader::skips_first_word(const WorkUnit& unit) {
  if (decompressor_) return skip_first_;
  return unit.begin > 0 && starts_inside_word(unit.begin);
}

bool TextReader::skips_first_line(const WorkUnit& unit) {
  if (decompressor_) return skip_first_;
  return unit.begin > 0 && !follows_newline(unit.begin);
}

bool TextReader::read_past_end() { return decompressor_->pass_stop(); }

std::size_t TextReader::read_at(std::size_t at, std::size_t want, std::uint64_t offset) {
  if (decompressor_) {
    if (offset != decompressor_->position()) {
      throw RunError(
          fmt::format("{} is compressed: byte {} read out of order", quote_path(path_), offset));
    }
    return decompressor_->read(buffer_.data() + at, want);
  }
  const ssize_t got = pread_fully(fd_, buffer_.data() + at, want, offset);
  if (got < 0) throw RunError(errno_message("cannot read", path_, errno));
  return static_cast<std::size_t>(got);
}

void TextReader::finish_pending(std::uint64_t offset) {
  for (;;) {
    const std::size_t got = read_at(0, std::min<std::size_t>(chunk_size_, 4096), offset);
    if (got == 0) return;  // the end of the file ends the word
    char* const begin = buffer_.data();
    fold_ascii_case(begin, got);
    char* const end = std::find_if_not(begin, begin + got, is_word_byte);
    pending_.insert(pending_.end(), begin, end);
    if (end != begin + got) return;
    offset += got;
  }
}

void TextReader::throw_shrunk(std::uint64_t offset) const {
  // Name the file's size now (where it really ends), not the offset the read
  // was at, which may lie far past it.
  struct stat st {};
  const std::string now = ::fstat(fd_, &st) == 0
                              ? fmt::format("it has {} bytes now", static_cast<std::uint64_t>(st.st_size))
                              : std::string("it is shorter now");
  throw RunError(fmt::format("{} changed during the run: {}, but the job planned to read byte {}",
                             quote_path(path_), now, offset));
}

namespace {

// Byte offset-1 of `fd`, or nothing past the end of the file.
std::optional<char> byte_before(int fd, std::uint64_t offset, const std::string& path) {
  char before = 0;
  const ssize_t got = pread_fully(fd, &before, 1, offset - 1);
  if (got < 0) throw RunError(errno_message("cannot read", path, errno));
  return got == 1 ? std::optional<char>(before) : std::nullopt;
}

}  // namespace

bool TextReader::starts_inside_word(std::uint64_t offset) {
  const auto before = byte_before(fd_, offset, path_);
  return before && is_word_byte(*before);
}

bool TextReader::follows_newline(std::uint64_t offset) {
  const auto before = byte_before(fd_, offset, path_);
  return !before || *before == '\n';
}

std::uint64_t TextReader::past_newline(std::uint64_t offset, bool& found) {
  for (;;) {
    const std::size_t got = read_at(0, chunk_size_, offset);
    if (got == 0) {
      found = false;
      return offset;
    }
    if (const void* newline = std::memchr(buffer_.data(), '\n', got)) {
      found = true;
      return offset + static_cast<std::uint64_t>(static_cast<const char*>(newline) - buffer_.data()) + 1;
    }
    offset += got;
  }
}

TextReader::LineRange TextReader::line_range(const std::string& path, const WorkUnit& unit) {
  const OpenFile file(*this, path, unit);
  ensure_buffers();
  bool found = true;
  // A line that began before the unit is the previous unit's.
  const std::uint64_t begin =
      unit.begin == 0 || follows_newline(unit.begin) ? unit.begin : past_newline(unit.begin, found);
  if (!found || begin >= unit.end) return {unit.end, unit.end, false};
  // The last line that starts in the unit runs on to its newline. (A unit
  // past the end of a file that shrank ends past it too: the feed reports it.)
  if (follows_newline(unit.end)) return {begin, unit.end, false};
  const std::uint64_t end = past_newline(unit.end, found);
  return {begin, end, !found};
}

void TextReader::ensure_buffers() {
  if (buffer_.size() < kReadChunks * chunk_size_ + kViewPadding) {
    buffer_.resize(kReadChunks * chunk_size_ + kViewPadding);
    mask_.resize((chunk_size_ + 63) / 64);
    events_.resize(chunk_size_ + 64);
  }
}

std::size_t TextReader::scan_words(char* chunk, std::size_t size, bool in_word) {
  simd::fold_and_classify(chunk, size, mask_.data());
  return simd::list_word_edges(mask_.data(), size, in_word, events_.data());
}

std::string_view TextReader::read_all(const std::string& path, const WorkUnit& unit) {
  const OpenFile file(*this, path, unit);
  if (decompressor_) {
    std::size_t size = 0;
    for (;;) {
      if (buffer_.size() < size + chunk_size_ + kViewPadding) {
        buffer_.resize(std::max(2 * buffer_.size(), size + chunk_size_ + kViewPadding));
      }
      const std::size_t got = read_at(size, buffer_.size() - kViewPadding - size, size);
      if (got == 0) return {buffer_.data(), size};
      size += got;
    }
  }
  const std::size_t size = unit.end - unit.begin;
  if (buffer_.size() < size + kViewPadding) buffer_.resize(size + kViewPadding);
  for (std::size_t at = 0; at < size;) {
    const std::size_t got = read_at(at, size - at, unit.begin + at);
    if (got == 0) throw_shrunk(unit.begin + at);
    at += got;
  }
  return {buffer_.data(), size};
}

void TextReader::read_through(const std::string& path, const WorkUnit& unit,
                              const std::function<void(std::string_view)>& f) {
  const OpenFile file(*this, path, unit);
  ensure_buffers();
  if (!decompressor_) {
    for (std::uint64_t offset = unit.begin; offset < unit.end;) {
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::uint64_t>(kReadChunks * chunk_size_, unit.end - offset));
      const std::size_t got = read_at(0, want, offset);
      if (got == 0) throw_shrunk(offset);
      f(std::string_view(buffer_.data(), got));
      offset += got;
    }
    return;
  }
  // The unit's whole lines: its streams' text less a first line that is the
  // unit's before, then on past its last stream through the line that ends
  // or follows its text (the next unit skips that one).
  bool skipping = skips_first_line(unit);  // the rest of the unit's before's line
  bool past_end = false;                   // reading on past the unit's last stream
  for (std::uint64_t offset = 0;;) {
    const std::size_t got = read_at(0, past_end ? chunk_size_ : kReadChunks * chunk_size_, offset);
    offset += got;
    if (got == 0) {
      if (past_end || skipping || !read_past_end()) return;
      past_end = true;
      continue;
    }
    std::string_view piece(buffer_.data(), got);
    if (skipping) {
      const std::size_t newline = piece.find('\n');
      if (newline == std::string_view::npos) continue;
      piece.remove_prefix(newline + 1);
      skipping = false;
      if (piece.empty()) continue;
    }
    if (past_end) {
      const std::size_t newline = piece.find('\n');
      if (newline != std::string_view::npos) {
        f(piece.substr(0, newline + 1));
        return;
      }
    }
    f(piece);
  }
}

}  // namespace gridmr
