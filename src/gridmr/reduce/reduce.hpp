// The reduce phase's last step: this rank's reduced keys in byte order, and the
// job's totals over all ranks. (The folding itself happens as the shuffle's
// rounds arrive: JobRuntime::reduce.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/runtime.hpp"
#include "gridmr/runtime/cluster.hpp"

namespace gridmr {

struct SortedResult {
  std::vector<std::string_view> keys;    // ascending by bytes
  std::vector<const std::byte*> values;  // values[i] belongs to keys[i] (in the reduced table)
  std::uint64_t total_keys = 0;          // over all ranks
  std::uint64_t total_groups = 0;        // distinct key parts over all ranks (grouped jobs)
  KeyLayout layout;                      // how a table key splits into its key part and the rest
  std::vector<std::byte> total;          // combine() of all values of all ranks; empty if none
};

// The first 8 bytes of a key, zero-padded, as a big-endian number: keys
// compare in byte order as these numbers do, unless the numbers are equal.
std::uint64_t order_prefix(std::string_view key);

// Local: the table's keys in byte order, by their key part (`layout`) first,
// then by the bytes after it.
SortedResult sort_by_key(const TableView& table, const KeyLayout& layout = {});

// Collective: fills in total_keys, total_groups and total (folded in rank
// order with the job's combine).
void learn_totals(const Cluster& cluster, const JobRuntime& job, SortedResult& result);
// The same for a spilled result: `pairs` in place of result's keys and values
// (result gives only its layout).
void learn_totals(const Cluster& cluster, const JobRuntime& job, const PairSource& pairs,
                  SortedResult& result);

}  // namespace gridmr
