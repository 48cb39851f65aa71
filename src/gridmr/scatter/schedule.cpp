// Scheduling: the static schedule, balanced by weight.
#include "gridmr/scatter/schedule.hpp"

#include <algorithm>

namespace gridmr {

std::vector<std::size_t> static_shares(const std::vector<WorkUnit>& units, int ranks) {
  long double total = 0;
  for (const WorkUnit& u : units) total += u.weight();
  std::vector<std::size_t> bounds(ranks + 1, units.size());
  bounds[0] = 0;
  // A unit goes to the rank whose share of the total weight holds its midpoint;
  // midpoints grow with the index, so every rank gets a contiguous run.
  long double before = 0;
  int rank = 0;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const long double middle = before + units[i].weight() / 2.0L;
    const int owner =
        total > 0 ? std::min<int>(ranks - 1, static_cast<int>(middle * ranks / total)) : 0;
    while (rank < owner) bounds[++rank] = i;
    before += units[i].weight();
  }
  return bounds;
}

}  // namespace gridmr
