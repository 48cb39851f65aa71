// Per-rank job statistics: collected during the run, printed and stored at the end.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace gridmr {

// Plain data: gathered as bytes and written as one HDF5 compound row.
struct RankStats {
  std::uint32_t rank = 0;
  char host[64] = {};
  std::uint64_t units = 0;
  std::uint64_t input_bytes = 0;  // bytes (or samples) of the units this rank mapped
  double map_seconds = 0;
  double shuffle_seconds = 0;
  double reduce_seconds = 0;
  double write_seconds = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t shuffle_rounds = 0;
  std::uint64_t peak_rss_bytes = 0;
  double wall_seconds = 0;  // from the start of the job to the end of its write, on this rank
  // When each phase began, in seconds from the start of the job on this rank
  // (ranks start together, in MPI_Init): the timeline `gridmr plot` draws.
  double map_start = 0;
  double shuffle_start = 0;
  double reduce_start = 0;
  double write_start = 0;
  std::uint64_t spilled_bytes = 0;  // written to the scratch folder (runs and their merges)
};

// Peak resident set size of this process so far.
std::uint64_t peak_rss_bytes();

// Collective: rank 0 gets every rank's row (others get an empty vector).
std::vector<RankStats> gather_stats(MPI_Comm comm, const RankStats& mine);

// The table `--stats` prints: one row per rank and a totals row.
std::string format_stats_table(const std::vector<RankStats>& rows);

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace gridmr
