// The output file's life before and around the write: the path checks and the
// space check. The file itself (OUT.partial, the commit, the clean-up on
// failure and on signals) is ResultWriter's.
#pragma once

#include <cstdint>

#include "gridmr/options.hpp"
#include "gridmr/runtime/cluster.hpp"

namespace gridmr {

// Rank 0, before any work: the output must be writable and not clobber anything.
void check_output_path(const EngineOptions& options);

// Collective, before any work, on more than one rank: rank 0 creates a probe
// file next to the output and every rank must see it. Every rank writes the
// result file, so an output folder that some node lacks, or that is a
// node-local folder of the same name, is a usage error (exit 2) now instead
// of a hang inside MPI_File_open at the end.
void check_output_shared(const Cluster& cluster, const EngineOptions& options);

// Collective, before writing: fails the job (RunError, on every rank) if the
// output's file system has less free space than the result needs (`bytes`,
// this rank's share), so that a full disk is found before HDF5 is half-way
// through the file.
void check_output_space(const Cluster& cluster, const EngineOptions& options, std::uint64_t bytes);

}  // namespace gridmr
