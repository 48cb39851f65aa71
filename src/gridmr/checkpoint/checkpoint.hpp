// Checkpoint-restart: map output saved as the map goes, and a rerun of the
// same command that skips the units already done.
//
// A checkpoint folder holds a manifest (the run's fingerprint: gridmr's
// version, the job, its options, the inputs' paths, sizes and mtimes, and the
// plan) and run files. A map thread whose checkpoint is due writes one run
// file: the units it finished since its last save and its table (the combined
// output of exactly those units), as `run-...partial`, renamed to `.run` once
// whole. A rerun with the same fingerprint removes the units of every whole
// run file from the plan and folds the files' records into the map side of
// its ranks (any number of ranks or threads): combining is associative and
// commutative, so the result is the same bytes as an uninterrupted run's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gridmr/detail/runtime.hpp"
#include "gridmr/options.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/runtime/cluster.hpp"

namespace gridmr {

class Spill;

struct CheckpointState {
  std::uint64_t fingerprint = 0;
  std::vector<std::string> files;  // whole run files to restore
};

// Rank 0, after planning, when options.checkpoint_dir is set: checks or
// creates the checkpoint (by options.restart), removes the units already
// done from `plan`, and returns the run files to restore (none for a fresh
// start). Throws UsageError for a checkpoint of another run, a damaged one, or
// --restart=require without one.
CheckpointState open_checkpoint(const EngineOptions& options, const JobRuntime& job, Plan& plan);

// Collective: rank 0's state reaches every rank, and each rank folds its
// share of the run files (file i goes to rank i % ranks) into `job`.
void restore_checkpoint(const Cluster& cluster, JobRuntime& job, CheckpointState& state);

// Rank 0, after the result is published: removes the checkpoint (run files,
// manifest, and the folder if it is then empty) unless --keep-checkpoint.
void remove_checkpoint(const EngineOptions& options);

// The scheduler's units with checkpoints: passes next() and done() on, and
// keeps per map thread the units done since its last save.
class CheckpointingUnits final : public UnitSource {
 public:
  // `spill` (may be null): where the map threads' tables spill; a thread's
  // save takes the runs it spilled since its last save.
  CheckpointingUnits(UnitSource& inner, const EngineOptions& options, const JobRuntime& job,
                     Spill* spill, std::uint64_t fingerprint, int rank, int threads);

  std::optional<WorkUnit> next(bool communicates) override { return inner_.next(communicates); }
  void while_busy(bool communicates) override { inner_.while_busy(communicates); }
  std::string take_payload(const WorkUnit& unit) override { return inner_.take_payload(unit); }
  void done(const WorkUnit& unit) override;
  bool checkpoint_due() override;
  void save_checkpoint(const TableView& table) override;

  // After the map: the output this rank saved (and took out of its tables)
  // goes back into `job`'s map side, for this run's shuffle.
  void restore_written(JobRuntime& job) const;

 private:
  UnitSource& inner_;
  Spill* spill_;
  std::string dir_;
  std::uint64_t fingerprint_;
  std::size_t value_size_;
  int rank_;
  std::chrono::duration<double> interval_;
  std::vector<std::vector<WorkUnit>> done_;  // per thread, since its last save
  std::vector<std::uint64_t> saves_;         // per thread: run files written
  std::vector<std::string> written_;         // run files of this rank, this run
  std::mutex mutex_;
  std::chrono::steady_clock::time_point next_save_;  // of this rank (one save per interval)
};

}  // namespace gridmr
