// Progress of the map phase on rank 0: units done, throughput and an ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gridmr {

// Refreshes one line in place on a terminal; prints a plain line every few
// seconds otherwise (the log of a batch job). Silent for the first second, so
// short runs print nothing.
//
// Where the line goes: under mpirun a rank's stderr is always a pipe, whether
// or not mpirun's own stderr is a terminal. So: stderr if it is a terminal;
// else the job's controlling terminal (/dev/tty), if it has one (then stderr,
// maybe redirected to a file, stays clean); else plain lines on stderr.
class Progress {
 public:
  Progress(std::uint64_t total_units, std::uint64_t total_weight, std::string weight_unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::uint64_t units, std::uint64_t weight);
  void finish();  // clears the line on a terminal

  // "812 MB/s" or "1.71 G samples/s": the figure a user reads.
  static std::string rate(double per_second, const std::string& unit);

 private:
  std::FILE* out_ = stderr;
  std::FILE* tty_ = nullptr;  // /dev/tty, when that is where the line goes
  bool terminal_ = false;
  std::uint64_t total_units_, total_weight_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
  bool shown_ = false;
};

}  // namespace gridmr
