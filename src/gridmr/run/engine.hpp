// The engine: plan, scatter, map, shuffle, reduce and write, for any Job.
#pragma once

#include <fmt/format.h>
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

#include "gridmr/api.hpp"
#include "gridmr/core/error.hpp"
#include "gridmr/core/records.hpp"
#include "gridmr/run/cluster.hpp"
#include "gridmr/run/failure.hpp"
#include "gridmr/run/progress.hpp"
#include "gridmr/run/scheduler.hpp"
#include "gridmr/run/stats.hpp"
#include "gridmr/shuffle/partitioner.hpp"
#include "gridmr/shuffle/shuffle.hpp"
#include "gridmr/version.hpp"

namespace gridmr {

// Rank 0, before any work: the output must be writable and not clobber anything.
void check_output_path(const EngineOptions& options);

// GRIDMR_DEBUG_MAP_DELAY_MS=N: wait N ms between planning and mapping, so that
// tests can change the inputs in between (a file that vanishes or shrinks).
void pause_for_tests();

// Collective, before writing: fails the job (RunError, on every rank) if the
// output's file system has less free space than the result needs, so that a
// full disk is found before HDF5 is half-way through the file.
void check_output_space(const Cluster& cluster, const EngineOptions& options, const Result& result);

namespace detail {

// Rank 0 plans; every rank receives the sources and the totals. The units stay
// on rank 0, for the scheduler to hand out.
template <Job J>
Plan plan_and_share(const Cluster& cluster, const EngineOptions& options,
                    const typename J::Config& config) {
  Plan plan;
  agree(cluster, [&] {
    if (!cluster.is_master()) return;
    check_output_path(options);
    plan = J::plan(config, options);
  });
  boost::mpi::communicator world(cluster.comm(), boost::mpi::comm_attach);
  boost::mpi::broadcast(world, plan.sources, 0);
  std::uint64_t totals[2] = {plan.total_bytes, plan.total_units};
  MPI_Bcast(totals, 2, MPI_UINT64_T, 0, cluster.comm());
  plan.total_bytes = totals[0];
  plan.total_units = totals[1];
  return plan;
}

// Maps the units the scheduler hands this rank on `threads` OpenMP threads,
// each folding into its own table. After a failure the remaining units are
// drained unmapped, so that every rank still completes the scheduling.
template <Job J>
std::vector<KeyTable> map_units(const typename J::Config& config, const Plan& plan, int threads,
                                Scheduler& scheduler) {
  std::vector<KeyTable> tables(threads);
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel num_threads(threads)
  {
    KeyTable& table = tables[omp_get_thread_num()];
    MapInput in(plan);
    auto emit = [&table](auto key, std::uint64_t value) {  // a string_view or a PaddedView
      table.upsert(key, value, [](std::uint64_t a, std::uint64_t b) { return J::combine(a, b); });
    };
    const bool communicates = omp_get_thread_num() == 0;
    while (const auto unit = scheduler.next(communicates)) {
      if (!failed) {
        try {
          in.set_unit(*unit);
          J::map(config, in, emit);
        } catch (...) {
#pragma omp critical(gridmr_map_error)
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
      scheduler.done(*unit);
    }
  }
  if (error) std::rethrow_exception(error);
  return tables;
}

// The first 8 bytes of a key, zero-padded, as a big-endian number: keys
// compare in byte order as these numbers do, unless the numbers are equal.
inline std::uint64_t order_prefix(std::string_view key) {
  unsigned char bytes[8] = {};
  std::memcpy(bytes, key.data(), std::min<std::size_t>(key.size(), 8));
  std::uint64_t prefix = 0;
  for (unsigned char byte : bytes) prefix = prefix << 8 | byte;
  return prefix;
}

// Sorts this rank's keys and learns the global totals. Keys are sorted by
// their 8-byte prefix first (one integer compare), by all their bytes only
// on a tie: with millions of keys, memcmp calls dominated the sort.
inline void finish_result(const Cluster& cluster, Result& result) {
  struct Item {
    std::uint64_t prefix;
    std::string_view key;
    std::uint64_t value;
  };
  std::vector<Item> items;
  items.reserve(result.table.size());
  for (const auto& entry : result.table) {
    items.push_back({order_prefix(entry.key()), entry.key(), entry.value()});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.prefix != b.prefix ? a.prefix < b.prefix : a.key < b.key;
  });
  result.keys.resize(items.size());
  result.values.resize(items.size());
  std::uint64_t local[2] = {items.size(), 0};
  for (std::size_t i = 0; i < items.size(); ++i) {
    result.keys[i] = items[i].key;
    result.values[i] = items[i].value;
    local[1] += items[i].value;
  }
  std::uint64_t global[2] = {0, 0};
  MPI_Allreduce(local, global, 2, MPI_UINT64_T, MPI_SUM, cluster.comm());
  result.total_keys = global[0];
  result.total_value = global[1];
}

}  // namespace detail

// Runs job J on every rank of `cluster`. Collective. Throws JobFailed (every
// rank) for failures all ranks agreed on; other exceptions come from inside a
// collective phase and must end in abort_job.
template <Job J>
void run_job(const Cluster& cluster, const EngineOptions& options,
             const typename J::Config& config) {
  Stopwatch elapsed;
  RankStats stats;
  stats.rank = static_cast<std::uint32_t>(cluster.rank());
  std::snprintf(stats.host, sizeof stats.host, "%s", cluster.host().c_str());
  const int threads = options.threads > 0 ? options.threads : cluster.default_threads();

  Plan plan = detail::plan_and_share<J>(cluster, options, config);

  pause_for_tests();
  Stopwatch map_time;
  std::vector<KeyTable> tables;
  {
    std::optional<Progress> progress;
    if (cluster.is_master() && !options.quiet) {
      progress.emplace(plan.total_units, plan.total_bytes, plan.weight_unit);
    }
    Scheduler scheduler(cluster.comm(), options.schedule, std::move(plan.units), threads,
                        progress ? &*progress : nullptr);
    agree(cluster, [&] { tables = detail::map_units<J>(config, plan, threads, scheduler); });
    stats.units = scheduler.units_mapped();
    stats.input_bytes = scheduler.weight_mapped();
  }
  stats.map_seconds = map_time.seconds();

  Stopwatch shuffle_time;
  const auto partitioner = RangePartitioner::from_samples(
      cluster.comm(), sample_keys(tables, 64 * static_cast<std::size_t>(cluster.size())));
  Result result;
  const ShuffleStats moved = shuffle(
      cluster.comm(), tables, partitioner, options.memory, [&](const char* data, std::size_t n) {
        for_each_record(data, n, [&](std::string_view key, std::uint64_t value) {
          result.table.upsert(key, value,
                              [](std::uint64_t a, std::uint64_t b) { return J::combine(a, b); });
        });
      });
  std::vector<KeyTable>().swap(tables);
  stats.shuffle_seconds = shuffle_time.seconds();
  stats.bytes_sent = moved.bytes_sent;
  stats.bytes_received = moved.bytes_received;
  stats.shuffle_rounds = moved.rounds;

  Stopwatch reduce_time;
  detail::finish_result(cluster, result);
  stats.reduce_seconds = reduce_time.seconds();

  Stopwatch write_time;
  check_output_space(cluster, options, result);
  ResultWriter out(cluster.comm(), options.output);
  J::write(out, result, plan, config);
  double seconds = elapsed.seconds();
  MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, cluster.comm());  // attributes must agree on all ranks
  out.set_attribute("/", "format", std::string_view("gridmr-result"));
  out.set_attribute("/", "format_version", std::uint64_t{1});
  out.set_attribute("/", "job", std::string_view(J::name));
  out.set_attribute("/", "gridmr_version", std::string_view(kVersion));
  out.set_attribute("/", "command_line", std::string_view(options.command_line));
  out.set_attribute("/", "ranks", static_cast<std::uint64_t>(cluster.size()));
  out.set_attribute("/", "threads_per_rank", static_cast<std::uint64_t>(threads));
  out.set_attribute("/", "elapsed_seconds", seconds);
  stats.write_seconds = write_time.seconds();
  stats.peak_rss_bytes = peak_rss_bytes();
  out.write_stats(stats);
  out.commit(options.force);
  outcome_reported();  // the result stands: a late signal must not say otherwise

  const auto rows = gather_stats(cluster.comm(), stats);
  if (options.stats && cluster.is_master()) std::fputs(format_stats_table(rows).c_str(), stdout);
}

}  // namespace gridmr
