// Planning: the inputs of a job cut into work units, made by rank 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gridmr {

// A piece of work. For text, bytes [begin, end) of file `source`; for a
// sample space, samples [begin, end) of block `source`. Plain data, so units
// travel between ranks as bytes.
struct WorkUnit {
  std::uint64_t source = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::uint64_t weight() const { return end - begin; }
  friend bool operator==(const WorkUnit&, const WorkUnit&) = default;
};

struct Plan {
  std::vector<std::string> sources;   // file paths (empty for a sample space)
  std::vector<WorkUnit> units;        // in plan order: file by file, front to back
  std::uint64_t total_bytes = 0;      // sum of the source sizes (or samples)
  std::uint64_t total_units = 0;      // units in the whole plan (`units` may be one rank's share)
  const char* weight_unit = "bytes";  // what WorkUnit::weight() counts, for progress
};

// Expands `inputs` (files, and directories walked recursively; entries of a
// directory in byte order of their paths, symlinks to directories not followed)
// and cuts every file into units of at most `unit_size` bytes (a compressed one,
// `.gz` or `.zst`, is one unit, read front to back). An empty file is
// listed but has no unit. Throws UsageError for a missing or unreadable input,
// a directory without files, or a special file.
Plan plan_files(const std::vector<std::string>& inputs, std::uint64_t unit_size);
// What a job writes beside its inputs: its output file and its checkpoint
// folder (either may be empty). Neither is ever an input: where they exist, a
// directory walk leaves them out (a result or a checkpoint inside the input
// folder), and naming one as an input is a UsageError.
struct JobWrites {
  std::string output;
  std::string checkpoint_dir;
};
Plan plan_files(const std::vector<std::string>& inputs, std::uint64_t unit_size,
                const JobWrites& writes);

// The same inputs, one unit per file (an empty file too): for jobs that read
// whole files.
Plan plan_whole_files(const std::vector<std::string>& inputs);
Plan plan_whole_files(const std::vector<std::string>& inputs, const JobWrites& writes);

// The indices [0, count) cut into blocks of `per_unit`: unit i holds
// [i * per_unit, ...) and has source = i. `what` names the items for progress
// ("samples"), `unit_option` the option that sets `per_unit`, for messages.
// Throws UsageError when the plan would need more than 100 million units.
Plan plan_range(std::uint64_t count, std::uint64_t per_unit, const char* what = "items",
                const char* unit_option = "the unit size");

// Cuts [0, length) of one source into units of at most `unit_size`.
void cut_into_units(std::uint64_t source, std::uint64_t length, std::uint64_t unit_size,
                    std::vector<WorkUnit>& out);

}  // namespace gridmr
