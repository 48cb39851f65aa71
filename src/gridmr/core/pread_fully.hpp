// Positioned reads that a signal or the kernel cut short, resumed until done.
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

}  // namespace gridmr
