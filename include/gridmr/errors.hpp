// The two kinds of failure a job can have, and the exit codes users see for them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace gridmr {

enum ExitCode : int { kSuccess = 0, kRunFailure = 1, kUsageError = 2 };

// Something in the job went wrong: I/O, a dead rank, a budget exceeded. Exit 1.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The user asked for something that cannot be done: bad option, missing input,
// output already there. Exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// 'path' in single quotes, with control characters escaped (\n, \t, \x01), so
// that an error about any file name stays on one line.
std::string quote_path(std::string_view path);

// "cannot open 'x': No such file or directory" for the current errno.
std::string errno_message(const std::string& what, const std::string& path, int err);

}  // namespace gridmr
