// Scheduling while mapping: the master's queue, batches on request, progress reports.
#include "gridmr/scatter/scheduler.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "gridmr/runtime/spare_cores.hpp"
#include "gridmr/scatter/schedule.hpp"

namespace gridmr {

namespace {
constexpr auto kReportInterval = std::chrono::milliseconds(200);
constexpr auto kIdlePoll = std::chrono::microseconds(200);
}  // namespace

std::size_t batch_size(std::size_t remaining, int ranks) {
  return std::max<std::size_t>(1, remaining / (2 * static_cast<std::size_t>(ranks)));
}

Scheduler::Scheduler(MPI_Comm comm, Schedule mode, std::vector<WorkUnit> plan_units, int threads,
                     bool prefetch, Progress* progress, const JobRuntime* payloads)
    : mode_(mode),
      threads_(threads),
      prefetch_(prefetch),
      progress_(progress),
      payload_job_(payloads),
      on_request_(mode == Schedule::kDynamic || payloads != nullptr) {
  SpareCores::withdraw();
  MPI_Comm_dup(comm, &comm_);  // the scheduler's messages never meet anyone else's
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &ranks_);
  if (rank_ == 0) reports_.resize(ranks_);

  if (const char* forced =
          std::getenv("GRIDMR_DEBUG_BATCH_PAYLOAD_BYTES")) {  // tests: small batches
    batch_payload_bytes_ = std::max<std::size_t>(1, std::strtoull(forced, nullptr, 10));
  }
  if (payload_job_ != nullptr) {
    // Payloads stay on rank 0 until their units leave: every rank gets its
    // units in batches, the first unasked. Static mode keeps each rank's
    // share apart, so that the same ranks map the same units.
    if (rank_ == 0) {
      if (mode_ == Schedule::kStatic) {
        const auto bounds = static_shares(plan_units, ranks_);
        shares_.resize(ranks_);
        for (int r = 0; r < ranks_; ++r) {
          std::deque<WorkUnit>& share = r == 0 ? queue_ : shares_[r];
          share.assign(plan_units.begin() + static_cast<std::ptrdiff_t>(bounds[r]),
                       plan_units.begin() + static_cast<std::ptrdiff_t>(bounds[r + 1]));
        }
      } else {
        queue_.assign(plan_units.begin(), plan_units.end());
      }
    }
    no_more_ = ranks_ == 1;
    if (ranks_ > 1) send_first_batches();
    return;
  }
  if (mode_ == Schedule::kStatic) {
    const auto mine = scatter_static_shares(plan_units);
    queue_.assign(mine.begin(), mine.end());
    no_more_ = true;
  } else {
    if (rank_ == 0) queue_.assign(plan_units.begin(), plan_units.end());
    no_more_ = ranks_ == 1;
    if (ranks_ > 1) scatter_first_batches();
  }
}

void Scheduler::scatter_first_batches() {
  // Every rank's first batch, as its first request would get it, before any
  // work: asked for later, it would wait for rank 0's first unit to end.
  std::vector<int> counts(ranks_, 0), displs(ranks_, 0);
  std::vector<WorkUnit> first;
  if (rank_ == 0) {
    const std::size_t most = static_cast<std::size_t>(INT_MAX) / (sizeof(WorkUnit) * ranks_);
    for (int r = 1; r < ranks_; ++r) {
      const std::size_t left = queue_.size() - first.size();
      const std::size_t n = std::min({left, batch_size(left, ranks_), most});
      displs[r] = static_cast<int>(first.size() * sizeof(WorkUnit));
      counts[r] = static_cast<int>(n * sizeof(WorkUnit));
      first.insert(first.end(), queue_.begin() + static_cast<std::ptrdiff_t>(first.size()),
                   queue_.begin() + static_cast<std::ptrdiff_t>(first.size() + n));
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(first.size()));
  }
  int bytes = 0;
  MPI_Scatter(counts.data(), 1, MPI_INT, &bytes, 1, MPI_INT, 0, comm_);
  std::vector<WorkUnit> mine(static_cast<std::size_t>(bytes) / sizeof(WorkUnit));
  MPI_Scatterv(first.data(), counts.data(), displs.data(), MPI_BYTE, mine.data(), bytes, MPI_BYTE,
               0, comm_);
  if (rank_ != 0) queue_.assign(mine.begin(), mine.end());
}

void Scheduler::send_first_batches() {
  if (rank_ != 0) {
    request_out_ = true;  // as if asked: the first batch comes without a request
    return;
  }
  for (int r = 1; r < ranks_; ++r) {
    if (mode_ == Schedule::kStatic) {
      send_batch(r, shares_[r], shares_[r].size());
    } else {
      send_batch(r, queue_, batch_size(queue_.size(), ranks_));
    }
  }
}

void Scheduler::send_batch(int to, std::deque<WorkUnit>& from, std::size_t most) {
  std::vector<WorkUnit> units;
  {
    std::lock_guard lock(mutex_);
    const std::size_t n = std::min(most, from.size());
    units.assign(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
    from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::vector<char> bytes;
  if (payload_job_ == nullptr) {
    bytes.resize(units.size() * sizeof(WorkUnit));
    std::memcpy(bytes.data(), units.data(), bytes.size());
  } else if (!units.empty()) {
    // [count][units][payload sizes][payloads]; the units that would pass the
    // payload limit go back to the front of the queue.
    std::string payload;
    std::vector<std::uint64_t> sizes;
    std::size_t taken = 0;
    for (; taken < units.size() && (taken == 0 || payload.size() < batch_payload_bytes_); ++taken) {
      const std::size_t before = payload.size();
      payload_job_->unit_payload(units[taken], payload);
      sizes.push_back(payload.size() - before);
    }
    if (taken < units.size()) {
      std::lock_guard lock(mutex_);
      from.insert(from.begin(), units.begin() + static_cast<std::ptrdiff_t>(taken), units.end());
      units.resize(taken);
    }
    const std::uint64_t count = units.size();
    bytes.resize(sizeof count + count * (sizeof(WorkUnit) + sizeof(std::uint64_t)) +
                 payload.size());
    char* at = bytes.data();
    const auto put = [&at](const void* data, std::size_t n) {
      if (n != 0) std::memcpy(at, data, n);
      at += n;
    };
    put(&count, sizeof count);
    put(units.data(), count * sizeof(WorkUnit));
    put(sizes.data(), count * sizeof(std::uint64_t));
    put(payload.data(), payload.size());
  }
  // Empty means "no more". Non-blocking: a large batch must not hold rank 0
  // until the other rank looks.
  outgoing_.push_back({MPI_REQUEST_NULL, std::move(bytes)});
  Outgoing& out = outgoing_.back();
  MPI_Isend(out.bytes.data(), static_cast<int>(out.bytes.size()), MPI_BYTE, to, kBatch, comm_,
            &out.request);
}

void Scheduler::receive_batch(const std::vector<char>& bytes) {
  if (payload_job_ == nullptr) {
    std::vector<WorkUnit> batch(bytes.size() / sizeof(WorkUnit));
    std::memcpy(batch.data(), bytes.data(), batch.size() * sizeof(WorkUnit));
    std::lock_guard lock(mutex_);
    queue_.insert(queue_.end(), batch.begin(), batch.end());
    return;
  }
  std::uint64_t count = 0;
  std::memcpy(&count, bytes.data(), sizeof count);
  const char* units = bytes.data() + sizeof count;
  const char* sizes = units + count * sizeof(WorkUnit);
  const char* payload = sizes + count * sizeof(std::uint64_t);
  std::lock_guard lock(mutex_);
  for (std::uint64_t i = 0; i < count; ++i) {
    WorkUnit unit;
    std::uint64_t size = 0;
    std::memcpy(&unit, units + i * sizeof unit, sizeof unit);
    std::memcpy(&size, sizes + i * sizeof size, sizeof size);
    payloads_[{unit.source, unit.begin, unit.end}].assign(payload, size);
    payload += size;
    queue_.push_back(unit);
  }
}

std::string Scheduler::take_payload(const WorkUnit& unit) {
  std::string payload;
  if (payload_job_ == nullptr) return payload;
  if (rank_ == 0) {
    payload_job_->unit_payload(unit, payload);
    return payload;
  }
  std::lock_guard lock(mutex_);
  const auto it = payloads_.find({unit.source, unit.begin, unit.end});
  if (it == payloads_.end()) return payload;
  payload = std::move(it->second);
  payloads_.erase(it);
  return payload;
}

std::vector<WorkUnit> Scheduler::scatter_static_shares(const std::vector<WorkUnit>& plan_units) {
  // Every rank's contiguous share, scattered once; nothing moves afterwards.
  // In rounds of at most `per_round` units per rank, packed per round on rank 0,
  // so that no byte count or displacement passes INT_MAX whatever the plan
  // (one pass of 24-byte units overflowed at 89 million units).
  std::uint64_t per_round = static_cast<std::uint64_t>(INT_MAX) / (sizeof(WorkUnit) * ranks_);
  if (const char* forced = std::getenv("GRIDMR_DEBUG_SCATTER_ROUND_UNITS")) {  // tests: many rounds
    per_round = std::max<std::uint64_t>(1, std::strtoull(forced, nullptr, 10));
  }
  std::vector<std::uint64_t> bounds(ranks_ + 1, 0);
  if (rank_ == 0) {
    const auto shares = static_shares(plan_units, ranks_);
    std::copy(shares.begin(), shares.end(), bounds.begin());
  }
  MPI_Bcast(bounds.data(), ranks_ + 1, MPI_UINT64_T, 0, comm_);
  std::uint64_t largest = 0;
  for (int r = 0; r < ranks_; ++r) largest = std::max(largest, bounds[r + 1] - bounds[r]);

  std::vector<WorkUnit> mine(bounds[rank_ + 1] - bounds[rank_]);
  std::vector<WorkUnit> packed;
  std::vector<int> counts(ranks_), displs(ranks_);
  for (std::uint64_t done = 0; done < largest; done += per_round) {
    int at = 0;
    for (int r = 0; r < ranks_; ++r) {
      const std::uint64_t share = bounds[r + 1] - bounds[r];
      const std::uint64_t n = share > done ? std::min(per_round, share - done) : 0;
      counts[r] = static_cast<int>(n * sizeof(WorkUnit));
      displs[r] = at;
      at += counts[r];
    }
    if (rank_ == 0) {
      packed.clear();
      for (int r = 0; r < ranks_; ++r) {
        const auto first = plan_units.begin() + static_cast<std::ptrdiff_t>(bounds[r] + done);
        packed.insert(packed.end(), first, first + counts[r] / static_cast<int>(sizeof(WorkUnit)));
      }
    }
    MPI_Scatterv(packed.data(), counts.data(), displs.data(), MPI_BYTE,
                 mine.data() + std::min<std::uint64_t>(done, mine.size()), counts[rank_], MPI_BYTE,
                 0, comm_);
  }
  return mine;
}

Scheduler::~Scheduler() {
  SpareCores::withdraw();
  if (report_request_ != MPI_REQUEST_NULL) MPI_Wait(&report_request_, MPI_STATUS_IGNORE);
  for (Outgoing& out : outgoing_) MPI_Wait(&out.request, MPI_STATUS_IGNORE);
  MPI_Comm_free(&comm_);
}

std::optional<WorkUnit> Scheduler::pop() {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) return std::nullopt;
  WorkUnit unit = queue_.front();
  queue_.pop_front();
  ++in_flight_;
  return unit;
}

void Scheduler::done(const WorkUnit& unit) {
  units_mapped_ += 1;
  weight_mapped_ += unit.weight();
  --in_flight_;
}

std::optional<WorkUnit> Scheduler::next(bool communicates) {
  bool lent = false;
  for (;;) {
    if (communicates) communicate();
    if (auto unit = pop()) return unit;
    // Rank 0's queue holds every rank's work: once it is empty this rank
    // (and the others) get nothing more. Elsewhere wait for "no more".
    const bool exhausted = rank_ == 0 ? true : no_more_.load();
    if (exhausted) {
      // This thread maps no more: a decoder may use its core meanwhile.
      if (!lent) SpareCores::lend();
      lent = true;
      if (!communicates) return std::nullopt;
      // Thread 0 stays until the last reports are in (rank 0) or sent (others),
      // so that no message is left behind and progress stays true to the end.
      if (rank_ == 0) {
        if (finals_received_ == ranks_ - 1 && in_flight_ == 0) {
          if (progress_ != nullptr) progress_->finish();
          finished_ = true;
          return std::nullopt;
        }
      } else if (in_flight_ == 0) {
        send_report(true);
        finished_ = true;
        return std::nullopt;
      }
    }
    std::this_thread::sleep_for(kIdlePoll);
  }
}

void Scheduler::while_busy(bool communicates) {
  if (communicates && !finished_) communicate();
}

void Scheduler::communicate() {
  if (rank_ == 0) {
    serve();
    show_progress();
    return;
  }
  if (on_request_) ask_for_more();
  if (std::chrono::steady_clock::now() - last_report_ >= kReportInterval) send_report(false);
}

void Scheduler::serve() {
  while (!outgoing_.empty()) {
    int sent = 0;
    MPI_Test(&outgoing_.front().request, &sent, MPI_STATUS_IGNORE);
    if (!sent) break;
    outgoing_.pop_front();
  }
  for (;;) {
    int waiting = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &waiting, &status);
    if (!waiting) return;
    const int from = status.MPI_SOURCE;
    if (status.MPI_TAG == kRequest) {
      MPI_Recv(nullptr, 0, MPI_BYTE, from, kRequest, comm_, MPI_STATUS_IGNORE);
      if (!shares_.empty()) {
        send_batch(from, shares_[from], shares_[from].size());
      } else {
        std::size_t left;
        {
          std::lock_guard lock(mutex_);
          left = queue_.size();
        }
        send_batch(from, queue_, batch_size(left, ranks_));
      }
    } else {  // kReport or kFinal
      Report report;
      MPI_Recv(&report, sizeof report, MPI_BYTE, from, status.MPI_TAG, comm_, MPI_STATUS_IGNORE);
      reports_[from] = report;
      if (status.MPI_TAG == kFinal) ++finals_received_;
    }
  }
}

void Scheduler::ask_for_more() {
  if (no_more_) return;
  if (request_out_) {
    int arrived = 0;
    MPI_Status status;
    MPI_Iprobe(0, kBatch, comm_, &arrived, &status);
    if (!arrived) return;
    int size = 0;
    MPI_Get_count(&status, MPI_BYTE, &size);
    std::vector<char> bytes(static_cast<std::size_t>(size));
    MPI_Recv(bytes.data(), size, MPI_BYTE, 0, kBatch, comm_, MPI_STATUS_IGNORE);
    request_out_ = false;
    if (bytes.empty()) {
      no_more_ = true;
      return;
    }
    receive_batch(bytes);
  }
  // Ask well before the queue runs dry: rank 0 answers between its own units
  // (and, during a long farm item or streaming unit, every 20 ms), so the
  // answer may take as long as one unit there.
  std::size_t queued;
  {
    std::lock_guard lock(mutex_);
    queued = queue_.size();
  }
  const bool want = prefetch_ ? queued <= 2 * static_cast<std::size_t>(threads_)
                              : queued == 0 && in_flight_ < threads_;
  if (want) {
    MPI_Send(nullptr, 0, MPI_BYTE, 0, kRequest, comm_);
    request_out_ = true;
  }
}

void Scheduler::send_report(bool final) {
  if (final_sent_) return;
  if (report_request_ != MPI_REQUEST_NULL) {
    int complete = 0;
    MPI_Test(&report_request_, &complete, MPI_STATUS_IGNORE);
    if (!complete && !final) return;  // the previous report is still on its way
    if (!complete) MPI_Wait(&report_request_, MPI_STATUS_IGNORE);
  }
  report_buffer_ = {units_mapped_.load(), weight_mapped_.load()};
  last_report_ = std::chrono::steady_clock::now();
  if (final) {
    MPI_Send(&report_buffer_, sizeof report_buffer_, MPI_BYTE, 0, kFinal, comm_);
    final_sent_ = true;
  } else {
    MPI_Isend(&report_buffer_, sizeof report_buffer_, MPI_BYTE, 0, kReport, comm_,
              &report_request_);
  }
}

void Scheduler::show_progress() {
  if (progress_ == nullptr) return;
  Report sum{units_mapped_.load(), weight_mapped_.load()};
  for (int r = 1; r < ranks_; ++r) {
    sum.units += reports_[r].units;
    sum.weight += reports_[r].weight;
  }
  progress_->update(sum.units, sum.weight);
}

}  // namespace gridmr
