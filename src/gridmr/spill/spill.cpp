// Spilling tables to sorted runs, and merging them.
#include "gridmr/spill/spill.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/errors.hpp"

namespace gridmr {

std::string default_scratch_folder() {
  // Under Slurm, the job's own local folder first.
  const bool slurm = std::getenv("SLURM_JOB_ID") != nullptr;
  const char* const names[] = {slurm ? "SLURM_TMPDIR" : "TMPDIR", "TMPDIR"};
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return "/tmp";
}

namespace {
std::string chosen_scratch_folder;  // --scratch, once checked; empty: the default
}  // namespace

std::string scratch_folder() {
  return chosen_scratch_folder.empty() ? default_scratch_folder() : chosen_scratch_folder;
}

void check_scratch_folder(const EngineOptions& options) {
  chosen_scratch_folder.clear();
  if (options.scratch.empty()) return;
  struct stat st {};
  if (::stat(options.scratch.c_str(), &st) != 0) {
    throw UsageError(errno_message("--scratch: cannot use", options.scratch, errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw UsageError(fmt::format("--scratch: {} is not a folder", quote_path(options.scratch)));
  }
  if (::access(options.scratch.c_str(), W_OK | X_OK) != 0) {
    throw UsageError(errno_message("--scratch: cannot write to", options.scratch, errno));
  }
  chosen_scratch_folder = options.scratch;
}

Spill::Spill(const JobRuntime& job, std::string folder, std::uint64_t memory, int threads,
             bool checkpointing)
    : job_(job),
      scratch_(std::move(folder)),
      map_bytes_(static_cast<std::size_t>(memory / 2 / static_cast<std::uint64_t>(threads))),
      reduce_bytes_(static_cast<std::size_t>(memory / 4)),
      round_bytes_(memory / 4),
      reader_bytes_(
          static_cast<std::size_t>(std::clamp<std::uint64_t>(memory / 64, 4 << 10, 1 << 20))),
      fan_in_(
          static_cast<std::size_t>(std::clamp<std::uint64_t>(memory / 4 / reader_bytes_, 4, 64))),
      checkpointing_(checkpointing),
      pending_(static_cast<std::size_t>(threads)) {}

void Spill::spill_map(const TableView& table) {
  if (table.size == 0) return;
  auto run = write_sorted_run(scratch_, table, job_.key_layout(), job_.value_size());
  const std::lock_guard lock(mutex_);
  if (checkpointing_) {
    // A map thread's output since its last checkpoint save: the next save takes it.
    // (Merged only among themselves, past kMaxRuns, so that a save takes exactly its own.)
    auto& mine = pending_[static_cast<std::size_t>(omp_get_thread_num())];
    add(mine, std::move(run));
  } else {
    add(map_runs_, std::move(run));
  }
}

void Spill::spill_restored(const TableView& table) {
  if (table.size == 0) return;
  auto run = write_sorted_run(scratch_, table, job_.key_layout(), job_.value_size());
  const std::lock_guard lock(mutex_);
  add(map_runs_, std::move(run));
}

std::vector<std::shared_ptr<const Run>> Spill::take_pending(int thread) {
  const std::lock_guard lock(mutex_);
  return std::exchange(pending_[static_cast<std::size_t>(thread)], {});
}

void Spill::release_pending() {
  const std::lock_guard lock(mutex_);
  for (auto& runs : pending_) {
    for (auto& run : runs) add(map_runs_, std::move(run));
    runs.clear();
  }
}

void Spill::spill_reduce(const TableView& table) {
  if (table.size == 0) return;
  auto run = write_sorted_run(scratch_, table, job_.key_layout(), job_.value_size());
  add(reduce_runs_, std::move(run));
}

void Spill::add(std::vector<std::shared_ptr<const Run>>& runs, std::shared_ptr<const Run> run) {
  ++runs_written_;
  runs.push_back(std::move(run));
  // Runs wait, so that the final merge can take the smallest first (the
  // cheapest order, as in Huffman coding); only past kMaxRuns, which bounds
  // the open files, do the fan_in_ smallest merge into one now.
  if (runs.size() > kMaxRuns) merge_smallest(runs);
}

void Spill::merge_smallest(std::vector<std::shared_ptr<const Run>>& runs) {
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a->bytes() < b->bytes(); });
  const auto take = static_cast<long>(std::min(runs.size(), fan_in_));
  const std::vector<std::shared_ptr<const Run>> group(runs.begin(), runs.begin() + take);
  auto merged = merge_runs(scratch_, group, job_, reader_bytes_);
  runs.erase(runs.begin(), runs.begin() + take);
  runs.push_back(std::move(merged));
}

std::shared_ptr<const Run> Spill::merge_reduce(const TableView& rest) {
  spill_reduce(rest);
  auto& runs = reduce_runs_;
  while (runs.size() > fan_in_) merge_smallest(runs);
  auto result = merge_runs(scratch_, runs, job_, reader_bytes_);
  std::vector<std::shared_ptr<const Run>>().swap(runs);
  return result;
}

namespace {

class RunCursor final : public PairSource::Cursor {
 public:
  RunCursor(std::shared_ptr<const Run> run, std::size_t value_size, std::size_t reader_bytes)
      : reader_(run, 0, run->bytes(), value_size, reader_bytes) {}
  bool next(std::string_view& key, const std::byte*& value) override {
    return reader_.next(key, value);
  }

 private:
  RunReader reader_;
};

}  // namespace

std::unique_ptr<PairSource::Cursor> SpilledPairs::open() const {
  return std::make_unique<RunCursor>(run_, value_size_, reader_bytes_);
}

void SpilledPairs::load(std::vector<std::string_view>& keys, std::vector<const std::byte*>& values,
                        std::vector<char>& storage) const {
  // The run is its records, one after the other: read it whole.
  storage.resize(run_->bytes());
  const ssize_t n = pread_fully(run_->fd(), storage.data(), storage.size(), 0);
  if (n < 0 || static_cast<std::size_t>(n) < storage.size()) {
    throw RunError(fmt::format("cannot read a spill file back: {}",
                               n < 0 ? std::strerror(errno) : "it is shorter than written"));
  }
  keys.clear();
  values.clear();
  keys.reserve(run_->records());
  values.reserve(run_->records());
  for_each_record(storage.data(), storage.size(), value_size_,
                  [&](std::string_view k, const char* v) {
                    keys.push_back(k);
                    values.push_back(reinterpret_cast<const std::byte*>(v));
                  });
}

}  // namespace gridmr
