// The ranks of a job: who we are, where we run, and how many threads to use.
#pragma once

#include <mpi.h>
#include <sched.h>

#include <string>
#include <vector>

namespace gridmr {

// Before MPI_Init: when every rank of the job runs on this node and the user
// has not chosen Open MPI's point-to-point layer (OMPI_MCA_pml), choose ob1,
// which moves messages through shared memory. Left alone, Open MPI first
// probes the high-speed network layers (cm with PSM/PSM2/OFI, UCX), which
// costs about 0.2 s of start-up on a machine without such hardware and is of
// no use inside one node. Returns whether it chose.
bool prefer_shared_memory_transport();

// Before MPI_Init, unless the user chose: Open MPI's I/O layer (OMPIO) must not
// use its `lockedfile` shared-file-pointer component, which HDF5 never needs.
// It crashes (a buffer overflow in Open MPI 4.1) when the output path is longer
// than about 225 bytes, and leaves `OUT.partial-...lock` files behind when a
// multi-host run fails.
void avoid_locked_file_pointers();

// Before MPI_Init, unless the user chose: skips parts of Open MPI's start-up
// that a batch job never uses, 30-50 ms of every rank's MPI_Init on a 2-core VM.
// - hwloc, which each rank runs to learn the node's topology, loads all of its
//   plugins: the OpenGL one tries to reach X displays :0 to :9, the OpenCL one
//   loads the OpenCL loader, the libxml2 one maps ICU's 31 MB of data. None of
//   them describes cores or memory (hwloc reads XML without libxml2).
// - PMIx hands each rank the job's data through a shared-memory store that the
//   rank maps and faults in page by page; its `hash` store, which asks the local
//   PMIx server instead, is quicker for the ranks one node holds.
// - When the whole job runs on this node, hwloc's I/O discovery (the
//   configuration space of every PCI device, to learn where network cards sit):
//   such a job talks through shared memory.
void skip_unused_startup_work();

// Before MPI_Init, unless the user chose: when this node runs more ranks than
// it has cores (oversubscribed, or ranks bound to shared cores by a rankfile),
// ranks waiting in MPI yield the core (mpi_yield_when_idle) instead of
// spinning on it, which would starve the rank that has work. Open MPI does so
// by itself only when it counts more ranks than slots. Returns whether it chose.
bool yield_when_oversubscribed();

// After MPI_Init: the TCP connection to the launcher's PMIx server (mpirun's,
// or Slurm's in slurmstepd) gets TCP_NODELAY. The PMIx client leaves Nagle's
// algorithm on, so MPI_Finalize's fence, a few small messages in a row, waits
// for the server's delayed acknowledgement: 42 ms of every job's end. Changes
// nothing else about the connection.
void send_launcher_messages_at_once();

// The threads a rank runs by default, from the cores each rank of its node
// may run on (`node`, this rank's among them as `mine`): its own cores,
// shared with every rank whose cores overlap them. Unbound ranks share the
// node; ranks bound to a core each have one; ranks bound to one socket by
// mpirun's default at more than 2 ranks split that socket.
int threads_per_rank(const cpu_set_t& mine, const std::vector<cpu_set_t>& node);

// The ranks of the job. Made and destroyed on every rank together: the ranks
// of each node share a pool of spare cores while it lives (SpareCores).
class Cluster {
 public:
  explicit Cluster(MPI_Comm comm);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_master() const { return rank_ == 0; }
  const std::string& host() const { return host_; }

  // OMP_NUM_THREADS if set; else threads_per_rank.
  int default_threads() const { return default_threads_; }

  // Rank 0, after a run: a line that says when the threads share cores
  // (`threads` per rank, more than the cores the rank is bound to), or when
  // mpirun's default binding (a core per rank at up to 2 ranks) left cores
  // of the node idle and the user chose no thread count (`threads_given`, or
  // OMP_NUM_THREADS). Empty otherwise.
  std::string binding_note(int threads, bool threads_given) const;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  std::string host_;
  int default_threads_ = 1;
  int cores_bound_ = 1;
  int node_cores_bound_ = 1;  // the cores of all the node's ranks, each counted once
  bool threads_from_environment_ = false;
};

}  // namespace gridmr
