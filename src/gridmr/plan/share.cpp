// The plan phase as the engine runs it.
#include "gridmr/plan/share.hpp"

#include <mpi.h>

#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

namespace gridmr {

Plan make_plan(const EngineOptions& options, const JobRuntime& job) {
  switch (job.input()) {
    case Input::kText:
      return plan_files(options.inputs, options.unit_size,
                        {options.output, options.checkpoint_dir});
    case Input::kFiles:
      return plan_whole_files(options.inputs, {options.output, options.checkpoint_dir});
    case Input::kGenerated:
      break;
  }
  return job.plan();
}

void share_plan(const Cluster& cluster, Plan& plan) {
  boost::mpi::communicator world(cluster.comm(), boost::mpi::comm_attach);
  boost::mpi::broadcast(world, plan.sources, 0);
  std::uint64_t totals[2] = {plan.total_bytes, plan.total_units};
  MPI_Bcast(totals, 2, MPI_UINT64_T, 0, cluster.comm());
  plan.total_bytes = totals[0];
  plan.total_units = totals[1];
}

}  // namespace gridmr
