// The write phase.
#include "gridmr/write/write_result.hpp"

#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "gridmr/core/sizes.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/output.hpp"
#include "gridmr/runtime/failure.hpp"
#include "gridmr/version.hpp"
#include "gridmr/write/output_file.hpp"
#include "gridmr/write/result_writer.hpp"

namespace gridmr {

void write_result(const Cluster& cluster, const EngineOptions& options, const JobRuntime& job,
                  const Plan& plan, const SortedResult& reduced, const PairSource* spilled,
                  int threads, const Stopwatch& elapsed, RankStats& stats) {
  Stopwatch write_time;
  stats.write_start = elapsed.seconds();
  // Keys, their offsets and one value each, plus room for metadata and /stats.
  // (A spilled result: `spilled` holds this rank's keys and values instead.)
  std::uint64_t bytes = 0;
  if (spilled != nullptr) {
    bytes = spilled->key_bytes() + spilled->size() * (sizeof(std::uint64_t) + job.value_size());
  } else {
    for (const auto key : reduced.keys)
      bytes += key.size() + sizeof(std::uint64_t) + job.value_size();
  }
  check_output_space(cluster, options, bytes);

  ResultWriter writer(cluster.comm(), options.output);
  Output out(writer);
  const std::byte* total = reduced.total.empty() ? nullptr : reduced.total.data();
  if (spilled != nullptr) {
    job.write_spilled(out, *spilled, reduced.total_keys, reduced.total_groups, total, plan);
  } else {
    job.write(out, reduced.keys, reduced.values, reduced.total_keys, reduced.total_groups, total,
              plan);
  }
  double seconds = elapsed.seconds();
  MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, cluster.comm());  // attributes must agree on all ranks
  writer.set_attribute("/", "format", std::string_view("gridmr-result"));
  writer.set_attribute("/", "format_version", std::uint64_t{1});
  writer.set_attribute("/", "job", std::string_view(job.name()));
  writer.set_attribute("/", "gridmr_version", std::string_view(kVersion));
  writer.set_attribute("/", "command_line", std::string_view(options.command_line));
  writer.set_attribute("/", "ranks", static_cast<std::uint64_t>(cluster.size()));
  writer.set_attribute("/", "threads_per_rank", static_cast<std::uint64_t>(threads));
  writer.set_attribute("/", "elapsed_seconds", seconds);
  stats.write_seconds = write_time.seconds();
  stats.peak_rss_bytes = peak_rss_bytes();
  stats.wall_seconds = elapsed.seconds();
  writer.write_stats(stats);
  // GRIDMR_DEBUG_BEFORE_COMMIT_MS=N: wait N ms with the whole result in the
  // partial file, so that tests can signal or break a job during its write.
  if (const char* ms = std::getenv("GRIDMR_DEBUG_BEFORE_COMMIT_MS"); ms != nullptr && *ms != '\0') {
    ::usleep(static_cast<useconds_t>(std::atoi(ms)) * 1000);
  }
  writer.commit(options.force);
  outcome_reported();  // the result stands: a late signal must not say otherwise
  // GRIDMR_DEBUG_AFTER_COMMIT_MS=N: wait N ms here, so that tests can signal a
  // job whose result is already published.
  if (const char* ms = std::getenv("GRIDMR_DEBUG_AFTER_COMMIT_MS"); ms != nullptr && *ms != '\0') {
    ::usleep(static_cast<useconds_t>(std::atoi(ms)) * 1000);
  }

  // A finished run says so, in one line on stdout: what, how big, how long.
  if (!options.quiet && cluster.is_master()) {
    struct stat written {};
    const std::string size =
        ::stat(options.output.c_str(), &written) == 0
            ? " (" + format_bytes(static_cast<std::uint64_t>(written.st_size)) + ")"
            : std::string();
    std::fprintf(stdout, "gridmr: wrote %s%s: %llu keys in %.2f s on %d rank%s x %d thread%s\n",
                 quote_path(options.output).c_str(), size.c_str(),
                 static_cast<unsigned long long>(reduced.total_groups), seconds, cluster.size(),
                 cluster.size() == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
    std::fflush(stdout);
    const std::string note = cluster.binding_note(threads, options.threads > 0);
    if (!note.empty()) std::fputs(note.c_str(), stderr);
  }
  const auto rows = gather_stats(cluster.comm(), stats);
  if (options.stats && cluster.is_master()) std::fputs(format_stats_table(rows).c_str(), stdout);
}

}  // namespace gridmr
