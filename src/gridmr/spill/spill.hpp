// Spilling: how a rank keeps within --memory whatever the number of distinct keys.
//
// --memory M bounds the rank: its map tables share M/2, a shuffle round's
// buffers take at most M/4, and the reduce table M/4. A table that outgrows
// its share is written to the scratch folder as a sorted run (runs.hpp) and
// emptied. The shuffle sends each run's range of keys to their owner; the
// owner's reduce table spills the same way, and the reduce merges its runs
// (a k-way merge, several passes if there are many) into one sorted run that
// the write reads in pieces. Results are the same bytes as without spilling.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gridmr/detail/runtime.hpp"
#include "gridmr/options.hpp"
#include "gridmr/spill/runs.hpp"

namespace gridmr {

// The scratch folder by default: $TMPDIR, else /tmp; under Slurm, $SLURM_TMPDIR first.
std::string default_scratch_folder();
// Every rank, at a job's start: throws UsageError unless --scratch, if given,
// is a folder this rank can write to; then takes it as the job's scratch folder.
void check_scratch_folder(const EngineOptions& options);
// The job's scratch folder: --scratch as check_scratch_folder took it, else
// the default. For the parts of a job that see no EngineOptions (a job's
// runtime making a file while it plans).
std::string scratch_folder();

class Spill final : public Spiller {
 public:
  // `memory`: --memory. With `checkpointing`, the runs a map thread spills
  // are kept apart until its next checkpoint save takes them (take_pending).
  Spill(const JobRuntime& job, std::string folder, std::uint64_t memory, int threads,
        bool checkpointing);

  std::size_t map_table_bytes() const override { return map_bytes_; }
  std::size_t reduce_table_bytes() const override { return reduce_bytes_; }
  void spill_map(const TableView& table) override;
  void spill_restored(const TableView& table) override;
  void spill_reduce(const TableView& table) override;

  // The bytes of a shuffle round (the budget the shuffle is given).
  std::uint64_t round_bytes() const { return round_bytes_; }
  // The buffer of one reader of a run.
  std::size_t reader_bytes() const { return reader_bytes_; }

  const std::vector<std::shared_ptr<const Run>>& map_runs() const { return map_runs_; }
  // With checkpoints: the runs map thread `thread` spilled since its last
  // save, taken out of the spill (the save writes them into its file).
  std::vector<std::shared_ptr<const Run>> take_pending(int thread);
  // After the map: runs no save took join the others, for the shuffle.
  void release_pending();
  bool reduce_spilled() const { return !reduce_runs_.empty(); }
  // After the shuffle, if the reduce spilled: the reduce table's rest becomes
  // a run too, and all reduce runs merge into one, sorted and combined.
  std::shared_ptr<const Run> merge_reduce(const TableView& rest);
  // Drops the map runs (their files go).
  void free_map_runs() { std::vector<std::shared_ptr<const Run>>().swap(map_runs_); }

  std::uint64_t spilled_bytes() const { return scratch_.written(); }
  std::uint64_t runs_written() const { return runs_written_; }
  const Scratch& scratch() const { return scratch_; }

 private:
  // Adds a run to `runs`; past kMaxRuns, merges the smallest.
  static constexpr std::size_t kMaxRuns = 256;
  void add(std::vector<std::shared_ptr<const Run>>& runs, std::shared_ptr<const Run> run);
  void merge_smallest(std::vector<std::shared_ptr<const Run>>& runs);

  const JobRuntime& job_;
  Scratch scratch_;
  std::size_t map_bytes_, reduce_bytes_;
  std::uint64_t round_bytes_;
  std::size_t reader_bytes_, fan_in_;
  bool checkpointing_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<const Run>> map_runs_, reduce_runs_;
  std::vector<std::vector<std::shared_ptr<const Run>>> pending_;  // per map thread
  std::uint64_t runs_written_ = 0;
};

// This rank's sorted result in one merged run, as the write reads it.
class SpilledPairs final : public PairSource {
 public:
  SpilledPairs(std::shared_ptr<const Run> run, const JobRuntime& job, std::size_t reader_bytes)
      : run_(std::move(run)), value_size_(job.value_size()), reader_bytes_(reader_bytes) {}
  std::uint64_t size() const override { return run_->records(); }
  std::uint64_t key_bytes() const override { return run_->key_bytes(); }
  std::unique_ptr<Cursor> open() const override;

  // The whole run in memory, for jobs that need it so: `storage` holds the
  // bytes that the keys and values point into.
  void load(std::vector<std::string_view>& keys, std::vector<const std::byte*>& values,
            std::vector<char>& storage) const;

 private:
  std::shared_ptr<const Run> run_;
  std::size_t value_size_, reader_bytes_;
};

}  // namespace gridmr
