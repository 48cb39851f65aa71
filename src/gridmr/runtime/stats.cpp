// Per-rank job statistics: peak memory, gathering, and the --stats table.
#include "gridmr/runtime/stats.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>

#include "gridmr/core/sizes.hpp"

namespace gridmr {

std::uint64_t peak_rss_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

std::vector<RankStats> gather_stats(MPI_Comm comm, const RankStats& mine) {
  int rank = 0, ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  std::vector<RankStats> all(rank == 0 ? ranks : 0);
  MPI_Gather(&mine, sizeof(RankStats), MPI_BYTE, all.data(), sizeof(RankStats), MPI_BYTE, 0, comm);
  return all;
}

std::string format_stats_table(const std::vector<RankStats>& rows) {
  // Every column of the total row is the sum of the rows above it: units and
  // bytes, but also seconds (time spent, all ranks together) and memory;
  // except wall time, where it is the longest rank's: the job's.
  RankStats total{};
  std::size_t host_width = 4;
  for (const RankStats& r : rows) {
    host_width = std::max(host_width, std::string(r.host).size());
    total.wall_seconds = std::max(total.wall_seconds, r.wall_seconds);
    total.units += r.units;
    total.map_seconds += r.map_seconds;
    total.shuffle_seconds += r.shuffle_seconds;
    total.reduce_seconds += r.reduce_seconds;
    total.write_seconds += r.write_seconds;
    total.bytes_sent += r.bytes_sent;
    total.bytes_received += r.bytes_received;
    total.peak_rss_bytes += r.peak_rss_bytes;
    total.spilled_bytes += r.spilled_bytes;
  }
  const double units = std::max<double>(1, static_cast<double>(total.units));
  std::string out =
      fmt::format("{:>5}  {:<{}} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10} "
                  "{:>10}\n",
                  "rank", "host", host_width, "units", "%", "map s", "shuffle", "reduce", "write s",
                  "wall s", "sent", "received", "peak RSS", "spilled");
  auto line = [&](const std::string& rank, const std::string& host, const RankStats& r) {
    out += fmt::format(
        "{:>5}  {:<{}} {:>8} {:>5.1f}% {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>10} {:>10} "
        "{:>10} {:>10}\n",
        rank, host, host_width, r.units, 100.0 * static_cast<double>(r.units) / units,
        r.map_seconds, r.shuffle_seconds, r.reduce_seconds, r.write_seconds, r.wall_seconds,
        format_bytes(r.bytes_sent), format_bytes(r.bytes_received), format_bytes(r.peak_rss_bytes),
        format_bytes(r.spilled_bytes));
  };
  for (const RankStats& r : rows) line(std::to_string(r.rank), r.host, r);
  line("total", "", total);
  return out;
}

}  // namespace gridmr
