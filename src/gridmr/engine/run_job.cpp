// Running one job: plan, scatter, map, shuffle, reduce, write.
#include "gridmr/engine/run_job.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "gridmr/checkpoint/checkpoint.hpp"
#include "gridmr/core/sizes.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/plan/share.hpp"
#include "gridmr/reduce/reduce.hpp"
#include "gridmr/runtime/failure.hpp"
#include "gridmr/runtime/progress.hpp"
#include "gridmr/runtime/spare_cores.hpp"
#include "gridmr/runtime/stats.hpp"
#include "gridmr/scatter/scheduler.hpp"
#include "gridmr/shuffle/partitioner.hpp"
#include "gridmr/shuffle/shuffle.hpp"
#include "gridmr/spill/spill.hpp"
#include "gridmr/write/output_file.hpp"
#include "gridmr/write/write_result.hpp"

namespace gridmr {

namespace {

// GRIDMR_DEBUG_MAP_DELAY_MS=N: wait N ms between planning and mapping, so that
// tests can change the inputs in between (a file that vanishes or shrinks).
void pause_for_tests() {
  if (const char* ms = std::getenv("GRIDMR_DEBUG_MAP_DELAY_MS"); ms != nullptr && *ms != '\0') {
    ::usleep(static_cast<useconds_t>(std::atoi(ms)) * 1000);
  }
}

// Scatter and map: rank 0 hands out the units (all at once, or in batches on
// request) while every rank maps what it gets into its threads' tables.
void scatter_and_map(const Cluster& cluster, const EngineOptions& options, Plan& plan, int threads,
                     JobRuntime& job, Spill& spill, std::uint64_t fingerprint, RankStats& stats) {
  std::optional<Progress> progress;
  if (cluster.is_master() && options.progress != EngineOptions::Progress::kNone) {
    progress.emplace(plan.total_units, plan.total_bytes, plan.weight_unit,
                     options.progress == EngineOptions::Progress::kAuto
                         ? std::nullopt
                         : std::optional<bool>(options.progress == EngineOptions::Progress::kTty));
  }
  // A rank whose map is over has lent its threads' cores (Scheduler::next) to
  // the node's other ranks; it waits for them idle rather than in MPI, so that
  // one still reading a file that cannot be cut decodes it on such a core.
  const Waiting waiting = SpareCores::shared() ? Waiting::kIdle : Waiting::kBusy;
  Scheduler units(cluster.comm(), options.schedule, std::move(plan.units), threads,
                  job.prefetch_units(), progress ? &*progress : nullptr,
                  job.unit_payloads() ? &job : nullptr);
  if (options.checkpoint_dir.empty()) {
    agree(
        cluster, [&] { job.map(plan, threads, units); }, waiting);
  } else {
    CheckpointingUnits saving(units, options, job, &spill, fingerprint, cluster.rank(), threads);
    agree(
        cluster,
        [&] {
          job.map(plan, threads, saving);
          spill.release_pending();
          saving.restore_written(job);
        },
        waiting);
  }
  stats.units = units.units_mapped();
  stats.input_bytes = units.weight_mapped();
  // Every unit of the plan was mapped once, or the result would lack (or
  // double) its keys without a word.
  std::uint64_t mapped = stats.units;
  MPI_Allreduce(MPI_IN_PLACE, &mapped, 1, MPI_UINT64_T, MPI_SUM, cluster.comm());
  agree(cluster, [&] {
    if (cluster.is_master() && mapped != plan.total_units) {
      throw RunError(
          fmt::format("internal error: {} units of the plan's {} were mapped; "
                      "no output written",
                      mapped, plan.total_units));
    }
  });
}

// Rank 0, on runs past their first second: a line at most every 5 s while the
// shuffle goes on in rounds (from the second), so that a long shuffle is not silent.
struct ShuffleProgress {
  std::uint64_t rounds = 0, received = 0;
  double last_line = -5.0;  // the first line may come as soon as the run is 1 s old
};

void note_round(const Cluster& cluster, const EngineOptions& options, const Stopwatch& elapsed,
                std::size_t bytes, ShuffleProgress& so_far) {
  ++so_far.rounds;
  so_far.received += bytes;
  const double now = elapsed.seconds();
  // From the second round on: a shuffle of one round has its own end line.
  if (options.progress == EngineOptions::Progress::kNone || !cluster.is_master() ||
      so_far.rounds < 2 || now < 1.0 || now - so_far.last_line < 5.0) {
    return;
  }
  so_far.last_line = now;
  std::fprintf(stderr, "gridmr: shuffle round %llu, %s received by rank 0, %s elapsed\n",
               static_cast<unsigned long long>(so_far.rounds),
               format_bytes(so_far.received).c_str(), Progress::duration(now).c_str());
}

// Up to `limit` keys of the tables and runs, in proportion to the keys each holds.
std::vector<std::string> sample_map_output(std::span<const TableView> tables,
                                           std::span<const std::shared_ptr<const Run>> runs,
                                           std::size_t limit, const KeyLayout& layout,
                                           std::size_t value_size, std::size_t reader_bytes) {
  std::uint64_t in_tables = 0, in_runs = 0;
  for (const TableView& table : tables) in_tables += table.size;
  for (const auto& run : runs) in_runs += run->records();
  if (in_tables + in_runs == 0) return {};
  std::vector<std::string> sample = sample_keys(
      tables, static_cast<std::size_t>(limit * in_tables / (in_tables + in_runs)), layout);
  // Each run's share of the sample, carried over from run to run so that
  // many small runs (a small --memory) give their share in all, not one key
  // each; the keys taken from a run are spread evenly over it, centred (its
  // first key is its smallest: taking those pulled every splitter down to
  // the smallest keys, and one rank got nearly everything).
  double due = 0;
  for (const auto& run : runs) {
    due += static_cast<double>(limit) * static_cast<double>(run->records()) /
           static_cast<double>(in_tables + in_runs);
    const auto take = static_cast<std::uint64_t>(std::min<double>(due, run->records()));
    if (take == 0) continue;
    due -= static_cast<double>(take);
    const auto& marks = run->marks();
    if (marks.size() >= 2 * take) {
      // A run's marks are spread evenly over its bytes (one per 64 KiB).
      for (std::uint64_t j = 0; j < take; ++j) {
        sample.push_back(
            marks[(2 * j + 1) * marks.size() / (2 * take)].part.substr(0, kMaxSampledKey));
      }
      continue;
    }
    // Too few marks (a run of under 128 KiB per key wanted): read it.
    RunReader reader(run, 0, run->bytes(), value_size, reader_bytes);
    std::string_view key;
    const std::byte* value;
    std::uint64_t next = 0;  // the next key taken: record (2 * next + 1) * records / (2 * take)
    for (std::uint64_t i = 0; next < take && reader.next(key, value); ++i) {
      if (i == (2 * next + 1) * run->records() / (2 * take)) {
        sample.emplace_back(layout.part(key).substr(0, kMaxSampledKey));
        ++next;
      }
    }
  }
  return sample;
}

// Shuffle, with the reduce folding each round as it arrives: every key goes
// to the rank that owns its range (splitters sampled from all ranks' map
// output). A failure to fold (a full scratch folder) waits for the end of the
// rounds, which every rank must finish, and then fails the job on every rank.
ShuffleStats shuffle_and_fold(const Cluster& cluster, const EngineOptions& options, JobRuntime& job,
                              Spill& spill, const Stopwatch& elapsed, double& fold_seconds) {
  const std::vector<TableView> tables = job.map_tables();
  const auto partitioner = RangePartitioner::from_samples(
      cluster.comm(),
      sample_map_output(tables, spill.map_runs(), 64 * static_cast<std::size_t>(cluster.size()),
                        job.key_layout(), job.value_size(), spill.reader_bytes()));
  ShuffleProgress so_far;
  std::exception_ptr error;
  const ShuffleStats moved = shuffle(
      cluster.comm(), {tables, spill.map_runs(), spill.reader_bytes()}, job.value_size(),
      job.key_layout(), partitioner, spill.round_bytes(), [&](const char* data, std::size_t size) {
        if (error) return;
        Stopwatch fold;
        try {
          job.reduce(data, size);
        } catch (...) {
          error = std::current_exception();
        }
        fold_seconds += fold.seconds();
        note_round(cluster, options, elapsed, size, so_far);
      });
  job.free_map_tables();
  spill.free_map_runs();
  agree(cluster, [&] {
    if (error) std::rethrow_exception(error);
  });
  return moved;
}

// After the shuffle: this rank's keys in order. If any rank's reduce table
// spilled, every rank merges its runs into one (the write's collective calls
// must be the same on every rank); a job that cannot write in pieces then
// gets the merged run loaded into `storage`.
struct Reduced {
  SortedResult sorted;
  std::unique_ptr<SpilledPairs> spilled;  // set when the write reads from the scratch folder
  std::vector<char> storage;
};

Reduced sort_or_merge(const Cluster& cluster, JobRuntime& job, Spill& spill) {
  Reduced reduced;
  int spilled = spill.reduce_spilled() ? 1 : 0, anywhere = 0;
  MPI_Allreduce(&spilled, &anywhere, 1, MPI_INT, MPI_LOR, cluster.comm());
  if (anywhere == 0) {
    reduced.sorted = sort_by_key(job.reduced_table(), job.key_layout());
    learn_totals(cluster, job, reduced.sorted);
    return reduced;
  }
  agree(cluster, [&] {
    auto run = spill.merge_reduce(job.reduced_table());
    job.free_reduced_table();
    reduced.spilled = std::make_unique<SpilledPairs>(std::move(run), job, spill.reader_bytes());
  });
  reduced.sorted.layout = job.key_layout();
  learn_totals(cluster, job, *reduced.spilled, reduced.sorted);
  if (!job.writes_spilled()) {
    agree(cluster, [&] {
      reduced.spilled->load(reduced.sorted.keys, reduced.sorted.values, reduced.storage);
    });
    reduced.spilled.reset();
  }
  return reduced;
}

// Rank 0, on runs past their first second (as the map's progress): one line
// when a phase after the map ends, so that no phase of a long run is silent.
void note_phase(const Cluster& cluster, const EngineOptions& options, const Stopwatch& elapsed,
                const std::string& what) {
  if (options.progress == EngineOptions::Progress::kNone || !cluster.is_master() ||
      elapsed.seconds() < 1.0) {
    return;
  }
  std::fprintf(stderr, "gridmr: %s, %s elapsed\n", what.c_str(),
               Progress::duration(elapsed.seconds()).c_str());
}

}  // namespace

void run_job(const Cluster& cluster, const EngineOptions& options, JobRuntime& job) {
  Stopwatch elapsed;
  RankStats stats;
  stats.rank = static_cast<std::uint32_t>(cluster.rank());
  std::snprintf(stats.host, sizeof stats.host, "%s", cluster.host().c_str());
  const int threads = options.threads > 0 ? options.threads : cluster.default_threads();

  Plan plan;
  CheckpointState checkpoint;
  agree(cluster, [&] {
    job.check_on_every_rank();
    check_scratch_folder(options);
    if (!cluster.is_master()) return;
    check_output_path(options);
    plan = make_plan(options, job);
    if (!options.checkpoint_dir.empty()) checkpoint = open_checkpoint(options, job, plan);
  });
  check_output_shared(cluster, options);
  share_plan(cluster, plan);
  // Tables over their share of --memory spill (with checkpoints, a map
  // thread's runs wait for its next save, which writes them into the checkpoint).
  Spill spill(job, scratch_folder(), options.memory, threads, !options.checkpoint_dir.empty());
  job.set_spiller(&spill);
  if (!options.checkpoint_dir.empty()) restore_checkpoint(cluster, job, checkpoint);
  pause_for_tests();

  Stopwatch map_time;
  stats.map_start = elapsed.seconds();
  scatter_and_map(cluster, options, plan, threads, job, spill, checkpoint.fingerprint, stats);
  stats.map_seconds = map_time.seconds();

  Stopwatch shuffle_time;
  stats.shuffle_start = elapsed.seconds();
  double fold_seconds = 0;
  ShuffleStats moved;
  // One rank whose map spilled nothing: its map tables are its whole share,
  // folded in place (no records, no second copy of every key).
  Stopwatch fold;
  bool folded = false;
  if (cluster.size() == 1 && spill.map_runs().empty()) {
    agree(cluster, [&] { folded = job.reduce_map_tables(); });
    fold_seconds = fold.seconds();
  }
  if (!folded) {
    moved = shuffle_and_fold(cluster, options, job, spill, elapsed, fold_seconds);
  }
  stats.shuffle_seconds = shuffle_time.seconds() - fold_seconds;
  stats.bytes_sent = moved.bytes_sent;
  stats.bytes_received = moved.bytes_received;
  stats.shuffle_rounds = moved.rounds;
  note_phase(cluster, options, elapsed,
             fmt::format("shuffle done in {} round{} ({:.2f} s)", moved.rounds,
                         moved.rounds == 1 ? "" : "s", shuffle_time.seconds()));

  Stopwatch reduce_time;
  stats.reduce_start = elapsed.seconds();
  Reduced reduced = sort_or_merge(cluster, job, spill);
  agree(cluster, [&] {
    const SortedResult& sorted = reduced.sorted;
    const std::byte* total = sorted.total.empty() ? nullptr : sorted.total.data();
    if (reduced.spilled) {
      job.finish_spilled(*reduced.spilled, total, threads);
    } else {
      job.finish_reduce(sorted.keys, sorted.values, total, threads);
    }
  });
  stats.reduce_seconds = fold_seconds + reduce_time.seconds();
  stats.spilled_bytes = spill.spilled_bytes();
  note_phase(cluster, options, elapsed,
             fmt::format("reduce done: {} keys ({:.2f} s); writing", reduced.sorted.total_groups,
                         reduce_time.seconds()));

  write_result(cluster, options, job, plan, reduced.sorted, reduced.spilled.get(), threads, elapsed,
               stats);
  if (cluster.is_master()) remove_checkpoint(options);  // the result is published
}

}  // namespace gridmr
