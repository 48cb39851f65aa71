// Scheduling while mapping: rank 0 hands out work units, every rank reports progress.
#pragma once

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gridmr/detail/runtime.hpp"
#include "gridmr/options.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/runtime/progress.hpp"

namespace gridmr {

// Units per batch that rank 0 hands a rank asking for work: guided
// self-scheduling, half of what is left shared among the ranks, at least
// one: large batches early (few messages), small ones at the end (balance).
std::size_t batch_size(std::size_t remaining, int ranks);

// One per rank for the map phase. Static: every rank gets its contiguous share
// up front (static_shares). Dynamic: rank 0 keeps the units and gives each rank
// a batch whenever its queue runs low; a slow or busy rank simply asks less often.
//
// Threads call next() for units; only the calling thread that passes
// `communicates = true` (OpenMP's thread 0) touches MPI, which makes
// MPI_THREAD_FUNNELED enough. Rank 0 keeps mapping while it serves requests:
// it answers them whenever its thread 0 comes back for a unit.
class Scheduler final : public UnitSource {
 public:
  // Collective. On rank 0 `plan_units` holds every unit; elsewhere it is ignored.
  // `prefetch`: a rank asks for more while its threads still have units
  // queued (else only once a thread is free: JobRuntime::prefetch_units).
  // `payloads` (the same on every rank): the job whose units carry bytes
  // (JobRuntime::unit_payloads), or null. Such units always travel in batches
  // on request, of at most kBatchPayloadBytes of payload (and one unit): in
  // static mode too, where each rank's batches come from its own share.
  Scheduler(MPI_Comm comm, Schedule mode, std::vector<WorkUnit> plan_units, int threads,
            bool prefetch, Progress* progress, const JobRuntime* payloads = nullptr);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The next unit for this rank, or nothing once no more will come. Thread 0
  // returns nothing only after rank 0 has heard from every rank that it is done.
  std::optional<WorkUnit> next(bool communicates) override;
  // Every unit next() returned must be reported once mapped.
  void done(const WorkUnit& unit) override;
  // Thread 0 (`communicates`), busy with a long unit: the messages next()
  // handles, until next() has returned its last nothing.
  void while_busy(bool communicates) override;
  std::string take_payload(const WorkUnit& unit) override;

  // A batch's payload bytes beyond which no further unit joins it.
  static constexpr std::size_t kBatchPayloadBytes = std::size_t{64} << 20;

  std::uint64_t units_mapped() const { return units_mapped_; }
  std::uint64_t weight_mapped() const { return weight_mapped_; }

 private:
  enum Tag : int { kRequest = 1, kBatch = 2, kReport = 3, kFinal = 4 };
  struct Report {
    std::uint64_t units = 0;
    std::uint64_t weight = 0;
  };

  // Static mode: this rank's contiguous share of `plan_units` (given on rank 0).
  std::vector<WorkUnit> scatter_static_shares(const std::vector<WorkUnit>& plan_units);
  // Dynamic mode: every other rank's first batch, handed out at the start.
  void scatter_first_batches();
  // Payload mode, rank 0: every other rank's first batch, sent unasked.
  void send_first_batches();
  // Rank 0: up to `most` units from the front of `from` (fewer once their
  // payloads pass kBatchPayloadBytes), packed for `to` and sent unblocking;
  // none means "no more".
  void send_batch(int to, std::deque<WorkUnit>& from, std::size_t most);
  void receive_batch(const std::vector<char>& bytes);
  std::optional<WorkUnit> pop();
  void communicate();   // thread 0 only
  void serve();         // rank 0: requests and reports
  void ask_for_more();  // other ranks: keep a request out while the queue runs low
  void send_report(bool final);
  void show_progress();

  MPI_Comm comm_;
  int rank_ = 0;
  int ranks_ = 1;
  Schedule mode_;
  int threads_;
  bool prefetch_;
  Progress* progress_;
  const JobRuntime* payload_job_;
  bool on_request_;  // ranks other than 0 get their units in batches they ask for
  std::size_t batch_payload_bytes_ = kBatchPayloadBytes;

  std::mutex mutex_;
  std::deque<WorkUnit> queue_;        // rank 0: all units not handed out yet
  std::atomic<bool> no_more_{false};  // nothing will be added to queue_ any more
  std::atomic<int> in_flight_{0};     // units taken by threads and not yet done
  std::atomic<std::uint64_t> units_mapped_{0}, weight_mapped_{0};
  // Payload mode: units received and not yet taken, with their bytes (by source, begin, end).
  std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>, std::string> payloads_;
  std::vector<std::deque<WorkUnit>> shares_;  // rank 0, static payload mode: each rank's units left

  // Thread 0's state.
  bool request_out_ = false;
  bool final_sent_ = false;
  bool finished_ = false;        // next() told thread 0 that no more units come
  int finals_received_ = 0;      // rank 0
  std::vector<Report> reports_;  // rank 0: latest report of every rank
  struct Outgoing {              // rank 0: batches on their way
    MPI_Request request;
    std::vector<char> bytes;  // units (and, in payload mode, their sizes and payloads)
  };
  std::deque<Outgoing> outgoing_;
  Report report_buffer_;
  MPI_Request report_request_ = MPI_REQUEST_NULL;
  std::chrono::steady_clock::time_point last_report_ = std::chrono::steady_clock::now();
};

}  // namespace gridmr
