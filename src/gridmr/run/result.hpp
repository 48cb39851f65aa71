// What the reduce phase leaves on each rank: its keys, sorted, with their values.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "gridmr/core/key_table.hpp"

namespace gridmr {

struct Result {
  KeyTable table;                       // owns the key bytes
  std::vector<std::string_view> keys;   // this rank's keys, ascending by bytes
  std::vector<std::uint64_t> values;    // values[i] belongs to keys[i]
  std::uint64_t total_keys = 0;         // over all ranks
  std::uint64_t total_value = 0;        // sum of all values over all ranks
};

}  // namespace gridmr
