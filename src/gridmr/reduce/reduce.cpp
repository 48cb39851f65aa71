// The reduce phase's sort and totals.
#include "gridmr/reduce/reduce.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstring>

namespace gridmr {

std::uint64_t order_prefix(std::string_view key) {
  unsigned char bytes[8] = {};
  std::memcpy(bytes, key.data(), std::min<std::size_t>(key.size(), 8));
  std::uint64_t prefix = 0;
  for (unsigned char byte : bytes) prefix = prefix << 8 | byte;
  return prefix;
}

// Keys are sorted by their 8-byte prefix first (one integer compare), by all
// their bytes only on a tie: with millions of keys, memcmp calls dominated the sort.
namespace {

// Without a fixed-size suffix (plain keys, a fixed-size key part, or a
// terminated one, which never begins another), the order of (key part, rest)
// is the whole key's byte order: sorted by its first 16 bytes as two integers,
// by the rest only on a tie. Items of 40 bytes; the key's part is never looked
// for (a terminated part is a scan of the key).
SortedResult sort_whole_keys(const TableView& table, const KeyLayout& layout) {
  struct Item {
    std::uint64_t first, second;  // bytes 0-7 and 8-15, zero-padded, as integers in byte order
    const char* data;
    std::size_t size;
    const std::byte* value;
  };
  std::vector<Item> items;
  items.reserve(table.size);
  table.for_each([&](std::string_view key, const std::byte* value) {
    items.push_back({order_prefix(key), key.size() > 8 ? order_prefix(key.substr(8)) : 0,
                     key.data(), key.size(), value});
  });
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.second != b.second) return a.second < b.second;
    if (a.size > 16 && b.size > 16) {
      const int c = std::memcmp(a.data + 16, b.data + 16, std::min(a.size, b.size) - 16);
      if (c != 0) return c < 0;
    }
    return a.size < b.size;  // equal padded bytes: the shorter begins the longer
  });
  SortedResult result;
  result.layout = layout;
  result.keys.reserve(items.size());
  result.values.reserve(items.size());
  for (const Item& item : items) {
    result.keys.push_back({item.data, item.size});
    result.values.push_back(item.value);
  }
  return result;
}

}  // namespace

SortedResult sort_by_key(const TableView& table, const KeyLayout& layout) {
  if (layout.suffix == 0) return sort_whole_keys(table, layout);
  struct Item {
    std::uint64_t prefix;
    std::string_view key;  // the key part
    std::string_view suffix;
    const std::byte* value;
  };
  std::vector<Item> items;
  items.reserve(table.size);
  table.for_each([&](std::string_view key, const std::byte* value) {
    const std::string_view part = layout.part(key);
    items.push_back({order_prefix(part), part, key.substr(part.size()), value});
  });
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    if (a.key != b.key) return a.key < b.key;
    return a.suffix < b.suffix;
  });
  SortedResult result;
  result.layout = layout;
  result.keys.reserve(items.size());
  result.values.reserve(items.size());
  for (const Item& item : items) {
    result.keys.push_back({item.key.data(), item.key.size() + item.suffix.size()});
    result.values.push_back(item.value);
  }
  return result;
}

namespace {

// The total is folded on rank 0 in global key order, one value after the
// other, so that it is the same for any number of ranks even when combine()
// is not associative in floating point (a sum of doubles). `each_value(f)`
// calls f for this rank's `count` values in key order; `groups` is this
// rank's number of distinct key parts.
template <class EachValue>
void fold_totals(const Cluster& cluster, const JobRuntime& job, std::uint64_t count,
                 EachValue&& each_value, std::uint64_t groups, SortedResult& result) {
  const std::size_t size = job.value_size();
  constexpr int kTag = 7;
  // Values travel to rank 0 in chunks of about 4 MiB, whatever their size: a
  // chunk is memory beyond --memory.
  const std::size_t chunk_values = std::max<std::size_t>(1, (std::size_t{4} << 20) / size);
  std::vector<std::byte> total;  // rank 0: the fold so far
  auto fold = [&](const std::byte* value) {
    if (total.empty()) {
      total.assign(value, value + size);
    } else {
      job.combine_into(total.data(), value);
    }
  };
  if (cluster.is_master()) {
    each_value(fold);
    std::vector<std::byte> chunk;
    for (int r = 1; r < cluster.size(); ++r) {
      std::uint64_t left = 0;
      MPI_Recv(&left, 1, MPI_UINT64_T, r, kTag, cluster.comm(), MPI_STATUS_IGNORE);
      while (left > 0) {
        const std::size_t n = std::min<std::uint64_t>(left, chunk_values);
        chunk.resize(n * size);
        MPI_Recv(chunk.data(), static_cast<int>(chunk.size()), MPI_BYTE, r, kTag, cluster.comm(),
                 MPI_STATUS_IGNORE);
        for (std::size_t i = 0; i < n; ++i) fold(chunk.data() + i * size);
        left -= n;
      }
    }
  } else {
    MPI_Send(&count, 1, MPI_UINT64_T, 0, kTag, cluster.comm());
    std::vector<std::byte> chunk;
    chunk.reserve(std::min<std::uint64_t>(count, chunk_values) * size);
    const auto send = [&] {
      MPI_Send(chunk.data(), static_cast<int>(chunk.size()), MPI_BYTE, 0, kTag, cluster.comm());
      chunk.clear();
    };
    each_value([&](const std::byte* value) {
      chunk.insert(chunk.end(), value, value + size);
      if (chunk.size() == chunk_values * size) send();
    });
    if (!chunk.empty()) send();
  }
  // Rank 0 tells everyone: a flag byte (0: no keys anywhere), then the total.
  std::vector<std::byte> message(1 + size, std::byte{0});
  if (!total.empty()) {
    message[0] = std::byte{1};
    std::memcpy(message.data() + 1, total.data(), size);
  }
  MPI_Bcast(message.data(), static_cast<int>(message.size()), MPI_BYTE, 0, cluster.comm());
  if (message[0] == std::byte{1}) {
    result.total.assign(message.begin() + 1, message.end());
  } else {
    result.total.clear();
  }
  // Distinct key parts: a key part never spans ranks, so the ranks' counts add up.
  std::uint64_t counts[2] = {count, groups};
  std::uint64_t totals[2] = {0, 0};
  MPI_Allreduce(counts, totals, 2, MPI_UINT64_T, MPI_SUM, cluster.comm());
  result.total_keys = totals[0];
  result.total_groups = totals[1];
}

// Distinct key parts among keys in order, fed one by one.
struct GroupCounter {
  const KeyLayout& layout;
  std::string last;
  std::uint64_t groups = 0;
  void add(std::string_view key) {
    const std::string_view part = layout.part(key);
    if (groups == 0 || part != last) {
      ++groups;
      last.assign(part);
    }
  }
};

}  // namespace

void learn_totals(const Cluster& cluster, const JobRuntime& job, SortedResult& result) {
  std::uint64_t groups = 0;
  std::string_view last;
  for (std::size_t i = 0; i < result.keys.size(); ++i) {
    const std::string_view part = result.layout.part(result.keys[i]);
    if (i == 0 || part != last) ++groups;
    last = part;
  }
  fold_totals(
      cluster, job, result.values.size(),
      [&](auto&& f) {
        for (const std::byte* value : result.values) f(value);
      },
      groups, result);
}

void learn_totals(const Cluster& cluster, const JobRuntime& job, const PairSource& pairs,
                  SortedResult& result) {
  // One pass for this rank's distinct key parts, one for its values.
  GroupCounter counter{result.layout, {}, 0};
  {
    const auto cursor = pairs.open();
    std::string_view key;
    const std::byte* value;
    while (cursor->next(key, value)) counter.add(key);
  }
  fold_totals(
      cluster, job, pairs.size(),
      [&](auto&& f) {
        const auto cursor = pairs.open();
        std::string_view key;
        const std::byte* value;
        while (cursor->next(key, value)) f(value);
      },
      counter.groups, result);
}

}  // namespace gridmr
