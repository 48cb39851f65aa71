// `plot`: a picture of a run, from its result file's /stats/ranks.
#pragma once

#include <string>

namespace gridmr {

// Draws, with gnuplot, one bar per rank along the run's time (map, shuffle,
// reduce and write, and the waits between them) beside the units each rank
// mapped, and writes it as a PNG to `png` (as `png`.partial-<random> first;
// an existing `png` is replaced only with `force`). Throws UsageError for a
// file that is not a gridmr result, a missing output folder or an existing
// output; RunError when gnuplot is missing or fails.
void plot_result(const std::string& path, const std::string& png, bool force);

}  // namespace gridmr
