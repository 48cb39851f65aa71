// `show`: a human summary of a result file, read serially.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "gridmr/main.hpp"
#include "gridmr/result_file.hpp"

namespace gridmr {

// The run (job, command, ranks, time), then the job's own summary if `jobs`
// has one for it, else what any result holds: its groups, datasets and
// attributes, and the `top` keys by value of each key/value group.
void show_result(const std::string& path, std::size_t top, const std::vector<JobEntry>& jobs,
                 std::FILE* out);

// The summary any result file gets (what show prints after the run lines).
void show_contents(const ResultFile& file, std::size_t top, std::FILE* out);

}  // namespace gridmr
