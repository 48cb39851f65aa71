// Running one job on every rank: the six phases, one after the other.
#pragma once

#include "gridmr/detail/runtime.hpp"
#include "gridmr/options.hpp"
#include "gridmr/runtime/cluster.hpp"

namespace gridmr {

// Collective. Throws JobFailed (on every rank) for failures all ranks agreed
// on; other exceptions come from inside a collective phase and must end in
// abort_job.
void run_job(const Cluster& cluster, const EngineOptions& options, JobRuntime& job);

}  // namespace gridmr
