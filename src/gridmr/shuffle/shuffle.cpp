// The shuffle: serialization by owner, and the exchange rounds.
#include "gridmr/shuffle/shuffle.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <climits>
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
  const std::uint64_t hard_limit = static_cast<std::uint64_t>(INT_MAX) / ranks;

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
        const std::size_t used = send.size() - start;
        if (used != 0 && used + bytes > cap) break;  // the rest waits for the next round
        if (bytes > hard_limit) {
          throw RunError(fmt::format("a key of {} bytes is too long to shuffle on {} ranks",
                                     entries[i]->key().size(), ranks));
        }
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
  return stats;
}

}  // namespace gridmr
