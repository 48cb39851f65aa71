// `cat`: a result file's table as lines of tab-separated text, read serially.
#pragma once

#include <cstdio>
#include <string>

namespace gridmr {

// Prints the table at `object` of the result file `path` to `out`, a line per
// row and a field per column, tab-separated (docs/result-format.md, "As
// text"). `object` is a group, a dataset or a key list; empty means the
// group of the file's job. With `header`, a first line names the columns.
// Throws UsageError for a file that is not a gridmr result or an object it
// does not hold, RunError for a damaged file or a failed write.
void cat_result(const std::string& path, const std::string& object, bool header, std::FILE* out);

}  // namespace gridmr
