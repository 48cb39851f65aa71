// The shuffle: serialization by owner, and the exchange rounds.
#include "gridmr/shuffle/shuffle.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <numeric>
#include <optional>

#include "gridmr/detail/records.hpp"
#include "gridmr/errors.hpp"

namespace gridmr {

namespace {

// A slot of a map table: its key is read through the header, its value follows it.
using Entry = SlotHeader;

// For each destination rank, the entries of all tables that it owns.
std::vector<std::vector<const Entry*>> entries_by_owner(std::span<const TableView> tables,
                                                        const KeyLayout& layout,
                                                        const RangePartitioner& partitioner) {
  const int ranks = partitioner.parts();
  std::vector<std::vector<std::vector<const Entry*>>> per_table(tables.size());
  // A thread per table, as many as mapped (--threads): OpenMP's default would be
  // every core of the node for each rank when OMP_NUM_THREADS is unset.
  const int threads = static_cast<int>(std::max<std::size_t>(tables.size(), 1));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (std::size_t t = 0; t < tables.size(); ++t) {
    auto& lists = per_table[t];
    lists.resize(ranks);
    const TableView& table = tables[t];
    for (std::size_t i = 0; i < table.capacity; ++i) {
      const Entry& entry = table.slot(i);
      if (entry.empty()) continue;
      const std::string_view key = entry.key();
      lists[partitioner.owner(layout.part(key))].push_back(&entry);
    }
  }
  std::vector<std::vector<const Entry*>> by_owner(ranks);
  for (int d = 0; d < ranks; ++d) {
    for (auto& lists : per_table) {
      by_owner[d].insert(by_owner[d].end(), lists[d].begin(), lists[d].end());
      std::vector<const Entry*>().swap(lists[d]);
    }
  }
  return by_owner;
}

// The records too large for a round: each sent alone, its size first, then
// its bytes in pieces of at most 1 GiB (MPI counts are int), with Isend so
// that no order of ranks can deadlock; the receiver passes each whole record on.
void exchange_giants(MPI_Comm comm, std::vector<std::vector<std::vector<char>>>& giants,
                     const std::function<void(const char* data, std::size_t size)>& receive,
                     ShuffleStats& stats) {
  constexpr int kTag = 11;
  constexpr std::uint64_t kPiece = 1ull << 30;
  int ranks = 1, me = 0;
  MPI_Comm_size(comm, &ranks);
  MPI_Comm_rank(comm, &me);
  std::vector<std::uint64_t> out(ranks), in(ranks);
  for (int d = 0; d < ranks; ++d) out[d] = giants[d].size();
  MPI_Alltoall(out.data(), 1, MPI_UINT64_T, in.data(), 1, MPI_UINT64_T, comm);
  if (std::all_of(out.begin(), out.end(), [](auto n) { return n == 0; }) &&
      std::all_of(in.begin(), in.end(), [](auto n) { return n == 0; })) {
    return;
  }
  std::vector<std::uint64_t> sizes;  // alive until every send is done, as the records
  std::vector<MPI_Request> requests;
  sizes.reserve(std::accumulate(out.begin(), out.end(), std::uint64_t{0}));
  for (int d = 0; d < ranks; ++d) {
    for (const std::vector<char>& record : giants[d]) {
      if (d == me) {
        receive(record.data(), record.size());
        continue;
      }
      sizes.push_back(record.size());
      requests.emplace_back();
      MPI_Isend(&sizes.back(), 1, MPI_UINT64_T, d, kTag, comm, &requests.back());
      for (std::uint64_t at = 0; at < sizes.back(); at += kPiece) {
        requests.emplace_back();
        MPI_Isend(record.data() + at, static_cast<int>(std::min(kPiece, sizes.back() - at)),
                  MPI_BYTE, d, kTag, comm, &requests.back());
      }
      stats.bytes_sent += sizes.back();
    }
  }
  std::vector<char> record;
  for (int s = 0; s < ranks; ++s) {
    if (s == me) continue;
    for (std::uint64_t k = 0; k < in[s]; ++k) {
      std::uint64_t size = 0;
      MPI_Recv(&size, 1, MPI_UINT64_T, s, kTag, comm, MPI_STATUS_IGNORE);
      record.resize(size);
      for (std::uint64_t at = 0; at < size; at += kPiece) {
        MPI_Recv(record.data() + at, static_cast<int>(std::min(kPiece, size - at)), MPI_BYTE, s,
                 kTag, comm, MPI_STATUS_IGNORE);
      }
      stats.bytes_received += size;
      receive(record.data(), record.size());
    }
  }
  MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
  ++stats.rounds;
}

// Where each destination's keys lie in each run: a run is sorted by key part,
// so a rank's range of keys is one stretch of it. Found from the run's marks,
// then by reading at most from the last mark before the stretch.
struct Segment {
  std::shared_ptr<const Run> run;
  std::uint64_t begin, end;
};

std::vector<std::vector<Segment>> segments_by_owner(
    std::span<const std::shared_ptr<const Run>> runs, std::size_t value_size,
    const KeyLayout& layout, const RangePartitioner& partitioner, std::size_t reader_bytes) {
  const int ranks = partitioner.parts();
  std::vector<std::vector<Segment>> by_owner(ranks);
  for (const auto& run : runs) {
    std::vector<std::uint64_t> starts(ranks + 1, run->bytes());  // starts[d]: first byte of d
    starts[0] = 0;
    const auto& marks = run->marks();
    for (int d = 1; d < ranks; ++d) {
      // The last mark owned by a rank before d (owners grow along the run).
      const auto after = std::partition_point(marks.begin(), marks.end(), [&](const Run::Mark& m) {
        return partitioner.owner(m.part) < d;
      });
      std::uint64_t from = after == marks.begin() ? 0 : std::prev(after)->offset;
      from = std::max(from, starts[d - 1]);
      RunReader reader(run, from, run->bytes(), value_size, std::min<std::size_t>(reader_bytes, 64 << 10));
      std::string_view key;
      const std::byte* value;
      for (;;) {
        const std::uint64_t at = reader.offset();
        if (!reader.next(key, value)) break;
        if (partitioner.owner(layout.part(key)) >= d) {
          starts[d] = at;
          break;
        }
      }
    }
    for (int d = 0; d < ranks; ++d) {
      if (starts[d + 1] > starts[d]) by_owner[d].push_back({run, starts[d], starts[d + 1]});
    }
  }
  return by_owner;
}

// One destination's stretches of runs, read in order; a record that did not
// fit in a round waits for the next.
class SegmentQueue {
 public:
  SegmentQueue(std::vector<Segment> segments, std::size_t value_size, std::size_t reader_bytes)
      : segments_(std::move(segments)), value_size_(value_size), reader_bytes_(reader_bytes) {}

  bool peek(std::string_view& key, const std::byte*& value) {
    while (!held_) {
      if (!reader_) {
        if (next_ == segments_.size()) return false;
        const Segment& s = segments_[next_++];
        reader_.emplace(s.run, s.begin, s.end, value_size_, reader_bytes_);
      }
      if (reader_->next(key_, value_)) {
        held_ = true;
      } else {
        reader_.reset();
      }
    }
    key = key_;
    value = value_;
    return true;
  }
  void pop() { held_ = false; }
  bool done() const { return !held_ && !reader_ && next_ == segments_.size(); }

 private:
  std::vector<Segment> segments_;
  std::size_t value_size_, reader_bytes_;
  std::size_t next_ = 0;
  std::optional<RunReader> reader_;
  bool held_ = false;
  std::string_view key_;
  const std::byte* value_ = nullptr;
};

}  // namespace

std::uint64_t per_peer_round_bytes(std::uint64_t memory, int ranks) {
  const std::uint64_t share = memory / (2 * static_cast<std::uint64_t>(ranks));
  const std::uint64_t limit = static_cast<std::uint64_t>(INT_MAX) / ranks;
  return std::clamp<std::uint64_t>(share, 64, limit);
}

ShuffleStats shuffle(MPI_Comm comm, const ShuffleInput& input, std::size_t value_size,
                     const KeyLayout& layout, const RangePartitioner& partitioner,
                     std::uint64_t memory,
                     const std::function<void(const char* data, std::size_t size)>& receive) {
  int ranks = 1, me = 0;
  MPI_Comm_size(comm, &ranks);
  MPI_Comm_rank(comm, &me);
  const std::uint64_t cap = per_peer_round_bytes(memory, ranks);
  // A round's buffers are indexed with int: a record beyond INT_MAX / ranks
  // bytes (a 600 MB word on 4 ranks) goes point to point, in pieces, after the
  // rounds. GRIDMR_DEBUG_SHUFFLE_HARD_LIMIT=N lowers the limit for the tests.
  std::uint64_t hard_limit = static_cast<std::uint64_t>(INT_MAX) / ranks;
  if (const char* limit = std::getenv("GRIDMR_DEBUG_SHUFFLE_HARD_LIMIT"); limit && *limit) {
    hard_limit = std::min<std::uint64_t>(hard_limit, std::strtoull(limit, nullptr, 10));
  }
  std::vector<std::vector<std::vector<char>>> giants(ranks);

  const auto by_owner = entries_by_owner(input.tables, layout, partitioner);
  auto run_segments =
      segments_by_owner(input.runs, value_size, layout, partitioner, input.reader_bytes);
  std::vector<SegmentQueue> from_runs;
  from_runs.reserve(ranks);
  for (int d = 0; d < ranks; ++d) {
    from_runs.emplace_back(std::move(run_segments[d]), value_size, input.reader_bytes);
  }
  std::vector<std::size_t> cursor(ranks, 0);
  std::vector<int> send_counts(ranks), recv_counts(ranks), send_displs(ranks), recv_displs(ranks);
  std::vector<char> send, recv;
  ShuffleStats stats;

  for (;;) {
    send.clear();
    for (int d = 0; d < ranks; ++d) {
      const std::size_t start = send.size();
      send_displs[d] = static_cast<int>(start);
      const auto& entries = by_owner[d];
      bool full = false;
      for (std::size_t& i = cursor[d]; i < entries.size(); ++i) {
        const std::size_t bytes = record_size(entries[i]->key(), value_size);
        if (bytes > hard_limit) {
          giants[d].emplace_back();
          append_record(giants[d].back(), entries[i]->key(), entries[i] + 1, value_size);
          continue;
        }
        const std::size_t used = send.size() - start;
        if (used != 0 && used + bytes > cap) {  // the rest waits for the next round
          full = true;
          break;
        }
        append_record(send, entries[i]->key(), entries[i] + 1,
                      value_size);  // the value follows the header
      }
      std::string_view key;
      const std::byte* value;
      while (!full && from_runs[d].peek(key, value)) {
        const std::size_t bytes = record_size(key, value_size);
        if (bytes > hard_limit) {
          giants[d].emplace_back();
          append_record(giants[d].back(), key, value, value_size);
          from_runs[d].pop();
          continue;
        }
        const std::size_t used = send.size() - start;
        if (used != 0 && used + bytes > cap) break;
        append_record(send, key, value, value_size);
        from_runs[d].pop();
      }
      send_counts[d] = static_cast<int>(send.size() - start);
    }
    MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm);
    std::exclusive_scan(recv_counts.begin(), recv_counts.end(), recv_displs.begin(), 0);
    recv.resize(static_cast<std::size_t>(recv_displs.back()) + recv_counts.back());
    MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_BYTE, recv.data(),
                  recv_counts.data(), recv_displs.data(), MPI_BYTE, comm);
    for (int d = 0; d < ranks; ++d) {
      if (d == me) continue;
      stats.bytes_sent += send_counts[d];
      stats.bytes_received += recv_counts[d];
    }
    ++stats.rounds;
    receive(recv.data(), recv.size());

    int more = 0;
    for (int d = 0; d < ranks; ++d) {
      more |= cursor[d] < by_owner[d].size() || !from_runs[d].done();
    }
    int anyone_more = 0;
    MPI_Allreduce(&more, &anyone_more, 1, MPI_INT, MPI_LOR, comm);
    if (!anyone_more) break;
  }
  exchange_giants(comm, giants, receive, stats);
  return stats;
}

}  // namespace gridmr
