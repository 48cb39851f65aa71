// Scheduling: which rank maps which work units.
#pragma once

#include <cstddef>
#include <vector>

#include "gridmr/plan.hpp"

namespace gridmr {

// Static schedule: contiguous runs of units, balanced by weight (bytes or
// samples). Returns ranks+1 boundaries: rank r maps units [b[r], b[r+1]).
std::vector<std::size_t> static_shares(const std::vector<WorkUnit>& units, int ranks);

}  // namespace gridmr
