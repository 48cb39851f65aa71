// The plan phase as the engine runs it: rank 0 plans, every rank learns the files and totals.
#pragma once

#include "gridmr/detail/runtime.hpp"
#include "gridmr/options.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/runtime/cluster.hpp"

namespace gridmr {

// Rank 0: the job's units, by its kind of input (the files given, or its own plan).
Plan make_plan(const EngineOptions& options, const JobRuntime& job);

// Collective: every rank gets rank 0's sources and totals. The units stay on
// rank 0, for the scheduler to hand out.
void share_plan(const Cluster& cluster, Plan& plan);

}  // namespace gridmr
