// Reads and writes done whole: resumed where a signal or the kernel cut them short.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace gridmr {

// Up to `bytes` of `fd` from `offset` into `out`, fewer only where the file
// ends; -1 (errno set) on an error. Thread-safe: it moves no file position.
inline ssize_t pread_fully(int fd, void* out, std::size_t bytes, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(fd, static_cast<char*>(out) + done, bytes - done,
                                static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return static_cast<ssize_t>(done);
}

namespace whole_io_detail {
// Calls `put(done)` (a write of the bytes from `done` on) until `bytes` are written.
template <class Put>
bool put_all(std::size_t bytes, Put put) {
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t n = put(done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}
}  // namespace whole_io_detail

// All `bytes` of `data` to `fd` (at `offset`, for pwrite_fully); false with
// errno set if they cannot be written (ENOSPC where the kernel wrote none
// without saying why). Async-signal-safe.
inline bool write_fully(int fd, const void* data, std::size_t bytes) {
  const char* from = static_cast<const char*>(data);
  return whole_io_detail::put_all(
      bytes, [&](std::size_t done) { return ::write(fd, from + done, bytes - done); });
}

inline bool pwrite_fully(int fd, const void* data, std::size_t bytes, std::uint64_t offset) {
  const char* from = static_cast<const char*>(data);
  return whole_io_detail::put_all(bytes, [&](std::size_t done) {
    return ::pwrite(fd, from + done, bytes - done, static_cast<off_t>(offset + done));
  });
}

}  // namespace gridmr
