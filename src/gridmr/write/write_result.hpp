// The write phase: the job's datasets, the run's attributes and statistics, in one file.
#pragma once

#include "gridmr/detail/runtime.hpp"
#include "gridmr/options.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/reduce/reduce.hpp"
#include "gridmr/runtime/cluster.hpp"
#include "gridmr/runtime/stats.hpp"

namespace gridmr {

// Collective. Checks the space, writes OUT.partial with every rank's part
// (the job's datasets, the root attributes, /stats/ranks), renames it to OUT,
// and prints the --stats table.
void write_result(const Cluster& cluster, const EngineOptions& options, const JobRuntime& job,
                  const Plan& plan, const SortedResult& reduced, const PairSource* spilled,
                  int threads, const Stopwatch& elapsed, RankStats& stats);

}  // namespace gridmr
