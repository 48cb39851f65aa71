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
  std::vector<std::string> sources;  // file paths (empty for a sample space)
  std::vector<WorkUnit> units;       // in plan order: file by file, front to back
  std::uint64_t total_bytes = 0;     // sum of the source sizes (or samples)
  std::uint64_t total_units = 0;     // units in the whole plan (`units` may be one rank's share)
  const char* weight_unit = "bytes";  // what WorkUnit::weight() counts, for progress
};

// Expands `inputs` (files, and directories walked recursively; entries of a
// directory in byte order of their paths, symlinks to directories not followed)
// and cuts every file into units of at most `unit_size` bytes. An empty file is
// listed but has no unit. Throws UsageError for a missing or unreadable input,
// a directory without files, or a special file.
Plan plan_files(const std::vector<std::string>& inputs, std::uint64_t unit_size);

// A sample space of `samples` samples cut into blocks of `unit_samples`: unit i
// is samples [i * unit_samples, ...) with source = i. Throws UsageError when the
// plan would need more than 100 million units.
Plan plan_samples(std::uint64_t samples, std::uint64_t unit_samples);

// Cuts [0, length) of one source into units of at most `unit_size`.
void cut_into_units(std::uint64_t source, std::uint64_t length, std::uint64_t unit_size,
                    std::vector<WorkUnit>& out);

}  // namespace gridmr
