// Progress of the map phase on rank 0: units done, throughput and an ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace gridmr {

// Refreshes one line in place on a terminal; prints a plain line every few
// seconds otherwise (the log of a batch job). Silent for the first second, so
// short runs print nothing.
//
// The line always goes to stderr, so that a run whose stderr is redirected
// keeps its progress in its log. Under mpirun a rank's stderr is a pipe even
// when mpirun's is a terminal, so there the lines come every 5 s, one after
// the other (drawing on /dev/tty instead left redirected logs empty).
class Progress {
 public:
  // `redraw`: one line redrawn in place (--progress tty) or plain lines
  // (--progress plain); unset: redraw when stderr is a terminal.
  Progress(std::uint64_t total_units, std::uint64_t total_weight, std::string weight_unit,
           std::optional<bool> redraw = std::nullopt);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::uint64_t units, std::uint64_t weight);
  void finish();  // clears the line on a terminal

  // "812 MB/s" or "1.71 G samples/s": the figure a user reads.
  static std::string rate(double per_second, const std::string& unit);
  // "0:42", "41:48", "2:03:07": a duration as a user reads it.
  static std::string duration(double seconds);

 private:
  std::FILE* out_ = stderr;
  bool terminal_ = false;
  std::uint64_t total_units_, total_weight_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
  bool shown_ = false;
};

}  // namespace gridmr
