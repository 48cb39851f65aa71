// Range partitioning: which rank owns a key, from splitters sampled over all ranks.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/detail/key_table.hpp"

namespace gridmr {

// Rank r owns the keys k with splitter[r-1] <= k < splitter[r] (bytewise), so
// rank r's sorted keys come right after rank r-1's and the result is globally
// sorted without a second exchange.
class RangePartitioner {
 public:
  explicit RangePartitioner(std::vector<std::string> splitters);

  // Collective: every rank offers a sample of its keys; all get the same splitters.
  static RangePartitioner from_samples(MPI_Comm comm, const std::vector<std::string>& sample);

  int owner(std::string_view key) const;
  int parts() const { return static_cast<int>(splitters_.size()) + 1; }
  const std::vector<std::string>& splitters() const { return splitters_; }

 private:
  std::vector<std::string> splitters_;
};

// parts-1 splitters at even quantiles of the distinct keys of `sample`.
std::vector<std::string> choose_splitters(std::vector<std::string> sample, int parts);

// Sampled keys are cut to this many bytes: a splitter that is a key's prefix
// still splits the key space in byte order, and a few huge keys (22 words of
// 100 MB) no longer overflow the int byte counts of the samples' all-gather.
inline constexpr std::size_t kMaxSampledKey = 256;

// Up to `limit` keys spread evenly over the tables (hash order is random order),
// cut to their key part (`layout`), cut to kMaxSampledKey bytes.
std::vector<std::string> sample_keys(std::span<const TableView> tables, std::size_t limit,
                                     const KeyLayout& layout = {});

}  // namespace gridmr
