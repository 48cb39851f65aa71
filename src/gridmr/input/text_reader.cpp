// Reads the words of one text work unit: the file handling behind TextReader.
#include "gridmr/input/text_reader.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "gridmr/core/error.hpp"

namespace gridmr {

void TextReader::open(const std::string& path) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw RunError(errno_message("cannot open", path, errno));
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

void TextReader::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::size_t TextReader::read_at(std::size_t at, std::size_t want, std::uint64_t offset) {
  for (;;) {
    const ssize_t got = ::pread(fd_, buffer_.data() + at, want, static_cast<off_t>(offset));
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) throw RunError(errno_message("cannot read", path_, errno));
  }
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

void TextReader::throw_shrunk(std::uint64_t size) const {
  throw RunError(
      fmt::format("{} changed during the run: it ends at byte {}, but was longer when "
                  "the job was planned",
                  quote_path(path_), size));
}

bool TextReader::starts_inside_word(std::uint64_t offset) {
  char before = 0;
  for (;;) {
    const ssize_t got = ::pread(fd_, &before, 1, static_cast<off_t>(offset - 1));
    if (got == 1) return is_word_byte(before);
    if (got == 0) return false;
    if (errno != EINTR) throw RunError(errno_message("cannot read", path_, errno));
  }
}

}  // namespace gridmr
