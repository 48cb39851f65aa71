// Where the running program is: for --version, for finding the build that suits
// the CPU, and for the files installed beside it.
#pragma once

#include <unistd.h>

#include <string>

namespace gridmr {

// The path of the running program, from /proc/self/exe ("" if it cannot be read).
inline std::string this_program_path() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string();
}

// Its folder, without the final '/' ("" if the path cannot be read).
inline std::string this_program_folder() {
  const std::string path = this_program_path();
  return path.substr(0, path.empty() ? 0 : path.rfind('/'));
}

}  // namespace gridmr
