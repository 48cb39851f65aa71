// Range partitioning from sampled splitters.
#include "gridmr/shuffle/partitioner.hpp"

#include <algorithm>
#include <numeric>

#include "gridmr/detail/records.hpp"

namespace gridmr {

RangePartitioner::RangePartitioner(std::vector<std::string> splitters)
    : splitters_(std::move(splitters)) {}

int RangePartitioner::owner(std::string_view key) const {
  // Bytewise order: std::string_view compares with char_traits<char>, which
  // compares as unsigned char, so bytes >= 0x80 sort after ASCII.
  const auto it = std::upper_bound(splitters_.begin(), splitters_.end(), key,
                                   [](std::string_view k, const std::string& s) { return k < s; });
  return static_cast<int>(it - splitters_.begin());
}

std::vector<std::string> choose_splitters(std::vector<std::string> sample, int parts) {
  std::sort(sample.begin(), sample.end());
  sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
  std::vector<std::string> splitters;
  if (parts <= 1) return splitters;
  splitters.reserve(parts - 1);
  for (int i = 1; i < parts; ++i) {
    if (sample.empty()) {
      splitters.emplace_back();  // no keys anywhere: everything would go to the last rank
    } else {
      splitters.push_back(sample[(sample.size() * i) / parts]);
    }
  }
  return splitters;
}

std::vector<std::string> sample_keys(std::span<const TableView> tables, std::size_t limit,
                                     const KeyLayout& layout) {
  const std::size_t total =
      std::accumulate(tables.begin(), tables.end(), std::size_t{0},
                      [](std::size_t n, const TableView& t) { return n + t.size; });
  std::vector<std::string> sample;
  if (total == 0 || limit == 0) return sample;
  const std::size_t stride = std::max<std::size_t>(1, total / limit);
  std::size_t index = 0;
  for (const TableView& table : tables) {
    table.for_each([&](std::string_view key, const std::byte*) {
      if (index++ % stride == 0 && sample.size() < limit) {
        const std::string_view part = layout.part(key);
        sample.emplace_back(part.substr(0, kMaxSampledKey));
      }
    });
  }
  return sample;
}

RangePartitioner RangePartitioner::from_samples(MPI_Comm comm,
                                                const std::vector<std::string>& sample) {
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  std::vector<char> mine;
  for (const std::string& key : sample) append_record(mine, key, nullptr, 0);
  const int my_bytes = static_cast<int>(mine.size());
  std::vector<int> counts(ranks), displs(ranks);
  MPI_Allgather(&my_bytes, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  std::exclusive_scan(counts.begin(), counts.end(), displs.begin(), 0);
  std::vector<char> all(static_cast<std::size_t>(displs.back()) + counts.back());
  MPI_Allgatherv(mine.data(), my_bytes, MPI_BYTE, all.data(), counts.data(), displs.data(),
                 MPI_BYTE, comm);
  std::vector<std::string> pooled;
  for_each_record(all.data(), all.size(), 0,
                  [&](std::string_view key, const char*) { pooled.emplace_back(key); });
  return RangePartitioner(choose_splitters(std::move(pooled), ranks));
}

}  // namespace gridmr
