// The boundary between a job's code (compiled with the job) and the engine
// (compiled into the library): a job seen without its types.
#pragma once

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/job.hpp"
#include "gridmr/output.hpp"
#include "gridmr/plan.hpp"

namespace gridmr {

// Hands out work units to a rank's map threads (the scatter phase's scheduler).
class UnitSource {
 public:
  virtual ~UnitSource() = default;
  // The next unit for this rank, or nothing once no more will come. Only the
  // thread that passes `communicates` (OpenMP's thread 0) talks MPI.
  virtual std::optional<WorkUnit> next(bool communicates) = 0;
  // Every unit next() returned must be reported once mapped.
  virtual void done(const WorkUnit& unit) = 0;
  // After done(), on the calling map thread: whether a checkpoint is due. If
  // so the thread passes its table to save_checkpoint() (which records it with
  // the units this thread reported done since its last save), then empties it.
  virtual bool checkpoint_due() { return false; }
  virtual void save_checkpoint(const TableView& table) { (void)table; }
  // From a map thread now and then while one unit keeps it busy for long (a
  // farm's item, a streaming mapper's unit): with `communicates`, rank 0
  // hands out units to the other ranks meanwhile, and they report progress.
  virtual void while_busy(bool communicates) { (void)communicates; }
  // The bytes the job attached to `unit` on rank 0 (JobRuntime::unit_payload),
  // handed over once, to the thread next() gave the unit to; "" if none.
  virtual std::string take_payload(const WorkUnit& unit) {
    (void)unit;
    return {};
  }
};

// Where tables go when they outgrow --memory (the engine's spill, spill.hpp):
// a table's pairs become a sorted run in the scratch folder, and the table is
// emptied. Both calls are safe from any map thread.
class Spiller {
 public:
  virtual ~Spiller() = default;
  // Bytes a map thread's table may hold (slots and long keys); max if it never spills.
  virtual std::size_t map_table_bytes() const = 0;
  // Bytes the reduce table may hold.
  virtual std::size_t reduce_table_bytes() const = 0;
  // A map thread's table (from inside map()); with checkpoints it belongs to
  // the thread's next save.
  virtual void spill_map(const TableView& table) = 0;
  // The map-side table that restore() fills (saved output, already in a checkpoint).
  virtual void spill_restored(const TableView& table) = 0;
  virtual void spill_reduce(const TableView& table) = 0;
};

// Keys a table of `stride`-byte slots may hold within `bytes`: a table of n
// keys holds up to 8n/3 slots, and 4n while it grows; a spill sorts it with
// 48 bytes per key.
inline std::size_t spill_limit(std::size_t bytes, std::size_t stride) {
  if (bytes == SIZE_MAX) return SIZE_MAX;
  return std::max<std::size_t>(64, bytes / (4 * stride + 48));
}

// This rank's reduced pairs in key order when they did not fit in memory:
// read in passes, each from the start.
class PairSource {
 public:
  class Cursor {
   public:
    virtual ~Cursor() = default;
    // The next pair; key and value stay valid until the next call.
    virtual bool next(std::string_view& key, const std::byte*& value) = 0;
  };
  virtual ~PairSource() = default;
  virtual std::uint64_t size() const = 0;       // pairs
  virtual std::uint64_t key_bytes() const = 0;  // bytes of all their keys
  virtual std::unique_ptr<Cursor> open() const = 0;
};

// What the engine needs of a job: JobRuntimeFor<J> (runtime_for.hpp) makes
// one of any gridmr::Job. The hot loops (map, emit, combine) stay inside it,
// compiled with the job's types; the engine only moves bytes.
class JobRuntime {
 public:
  virtual ~JobRuntime() = default;

  virtual const char* name() const = 0;
  virtual Input input() const = 0;
  // Input::kGenerated: the job's own plan (rank 0).
  virtual Plan plan() const = 0;
  virtual std::size_t value_size() const = 0;
  // How table keys split into a key part and the rest: keys are partitioned
  // and ordered by their key part first (a grouped job's keys are followed by
  // one value's bytes).
  virtual KeyLayout key_layout() const { return {}; }

  // Every rank, before any work (not collective): checks what only each
  // rank can see, such as the commands of a streaming job. Throws UsageError.
  virtual void check_on_every_rank() const {}

  // Every rank, after the reduce and before the write: this rank's sorted
  // keys and values, and the fold of all values over all ranks (null if there
  // are no keys; the same on every rank). A job may refuse its result here
  // (throw RunError), or work on it before write() (a streaming job's external
  // reducer). Every rank calls it at the same point, so a job may use
  // MPI_COMM_WORLD collectives here, before anything that may throw on some
  // ranks only (the farm fetches its first failure's stderr line so).
  virtual void finish_reduce(std::span<const std::string_view> keys,
                             std::span<const std::byte* const> values, const std::byte* total,
                             int threads) {
    (void)keys, (void)values, (void)total, (void)threads;
  }
  // The same for a spilled result (writes_spilled()), read from `pairs`.
  virtual void finish_spilled(const PairSource& pairs, const std::byte* total, int threads) {
    (void)pairs, (void)total, (void)threads;
  }

  // Maps the units `units` hands out on `threads` OpenMP threads, each into
  // its own table. After a failure the rest of the units are drained unmapped,
  // so that every rank still finishes the scheduling; then it throws.
  virtual void map(const Plan& plan, int threads, UnitSource& units) = 0;
  virtual std::vector<TableView> map_tables() const = 0;
  virtual void free_map_tables() = 0;

  // Folds saved map output (records.hpp) of an earlier, interrupted run into
  // this rank's map side, before map(): the shuffle takes it with the rest.
  virtual void restore(const char* records, std::size_t size) = 0;
  // Whether the map output can be saved unit by unit. A runtime whose output
  // lags behind its units (a streaming mapper's) must first bring the table up
  // to date when a save is due, as the streaming runtime does.
  virtual bool supports_checkpoint() const { return true; }

  // Tables that outgrow their share of --memory spill through `spiller` (set
  // before restore() and map(); null: they never spill).
  void set_spiller(Spiller* spiller) { spiller_ = spiller; }

  // Folds a buffer of received records (records.hpp) into this rank's table.
  virtual void reduce(const char* records, std::size_t size) = 0;
  // On a job of one rank whose map spilled nothing, instead of the shuffle and
  // reduce(): makes the map tables this rank's reduced table (and frees them).
  // False: not done; the shuffle runs as on many ranks.
  virtual bool reduce_map_tables() { return false; }
  virtual TableView reduced_table() const = 0;
  // *into = combine(*into, *from), on value bytes.
  virtual void combine_into(std::byte* into, const std::byte* from) const = 0;

  // The job's write: this rank's table keys in order with their values
  // (pointers into the reduced table), and the totals over all ranks: table
  // keys, distinct key parts (grouped jobs; else the same), and the fold of
  // all values (`total` is null when there are no keys anywhere).
  virtual void write(Output& out, std::span<const std::string_view> keys,
                     std::span<const std::byte* const> values, std::uint64_t total_keys,
                     std::uint64_t total_groups, const std::byte* total,
                     const Plan& plan) const = 0;
  // The same for a result that did not fit in memory, if the runtime can
  // write one in pieces (writes_spilled()); else the engine loads it first.
  virtual bool writes_spilled() const { return false; }
  virtual void write_spilled(Output& out, const PairSource& pairs, std::uint64_t total_keys,
                             std::uint64_t total_groups, const std::byte* total,
                             const Plan& plan) const {
    (void)out, (void)pairs, (void)total_keys, (void)total_groups, (void)total, (void)plan;
  }
  // After a spilled reduce: the reduce table's memory goes.
  virtual void free_reduced_table() {}

  // Whether a rank may take units ahead of its threads (short units: the
  // request's latency stays hidden). A runtime whose units run programs for
  // seconds or minutes (a farm's items, a streaming mapper's units) says no:
  // a unit then stays on rank 0 until a thread here can start it, so that the
  // last units go to whichever thread is free first.
  virtual bool prefetch_units() const { return true; }

  // Whether units carry bytes from rank 0 to the rank that maps them (the
  // same answer on every rank): a farm's items, which only rank 0 reads, travel
  // so, a batch at a time, instead of being sent to every rank with the plan.
  virtual bool unit_payloads() const { return false; }
  // Rank 0, any map thread, while mapping: appends `unit`'s bytes to `out`;
  // the mapping rank gets them from UnitSource::take_payload. Thread-safe.
  virtual void unit_payload(const WorkUnit& unit, std::string& out) const { (void)unit, (void)out; }

 protected:
  Spiller* spiller_ = nullptr;
};

}  // namespace gridmr
