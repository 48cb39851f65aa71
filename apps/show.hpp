// `gridmr show`: a human summary of a result file.
#pragma once

#include <cstdio>
#include <string>

namespace gridmr {

// Prints the job, its totals and the `top` most frequent keys. Throws UsageError
// if `path` is not a gridmr result file.
void show_result(const std::string& path, std::size_t top, std::FILE* out);

}  // namespace gridmr
