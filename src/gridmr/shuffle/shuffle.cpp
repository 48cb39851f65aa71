// The shuffle: serialization by owner, and the exchange rounds.
#include "gridmr/shuffle/shuffle.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <numeric>

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
#pragma omp parallel for schedule(dynamic, 1)
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
void exchange_giants(MPI_Comm comm, const std::vector<std::vector<const Entry*>>& giants,
                     std::size_t value_size,
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
  std::vector<std::vector<char>> records;  // alive until every send is done
  std::vector<std::uint64_t> sizes;
  std::vector<MPI_Request> requests;
  records.reserve(std::accumulate(out.begin(), out.end(), std::uint64_t{0}));
  sizes.reserve(records.capacity());
  for (int d = 0; d < ranks; ++d) {
    for (const Entry* entry : giants[d]) {
      records.emplace_back();
      append_record(records.back(), entry->key(), entry + 1, value_size);
      if (d == me) {
        receive(records.back().data(), records.back().size());
        continue;
      }
      sizes.push_back(records.back().size());
      requests.emplace_back();
      MPI_Isend(&sizes.back(), 1, MPI_UINT64_T, d, kTag, comm, &requests.back());
      for (std::uint64_t at = 0; at < sizes.back(); at += kPiece) {
        requests.emplace_back();
        MPI_Isend(records.back().data() + at, static_cast<int>(std::min(kPiece, sizes.back() - at)),
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

}  // namespace

std::uint64_t per_peer_round_bytes(std::uint64_t memory, int ranks) {
  const std::uint64_t share = memory / (2 * static_cast<std::uint64_t>(ranks));
  const std::uint64_t limit = static_cast<std::uint64_t>(INT_MAX) / ranks;
  return std::clamp<std::uint64_t>(share, 64, limit);
}

ShuffleStats shuffle(MPI_Comm comm, std::span<const TableView> tables, std::size_t value_size,
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
  std::vector<std::vector<const Entry*>> giants(ranks);

  const auto by_owner = entries_by_owner(tables, layout, partitioner);
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
      for (std::size_t& i = cursor[d]; i < entries.size(); ++i) {
        const std::size_t bytes = record_size(entries[i]->key(), value_size);
        if (bytes > hard_limit) {
          giants[d].push_back(entries[i]);
          continue;
        }
        const std::size_t used = send.size() - start;
        if (used != 0 && used + bytes > cap) break;  // the rest waits for the next round
        append_record(send, entries[i]->key(), entries[i] + 1,
                      value_size);  // the value follows the header
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
    for (int d = 0; d < ranks; ++d) more |= cursor[d] < by_owner[d].size();
    int anyone_more = 0;
    MPI_Allreduce(&more, &anyone_more, 1, MPI_INT, MPI_LOR, comm);
    if (!anyone_more) break;
  }
  exchange_giants(comm, giants, value_size, receive, stats);
  return stats;
}

}  // namespace gridmr
