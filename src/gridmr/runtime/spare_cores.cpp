// The pool of spare cores: a counter of the process's own or of the node's
// ranks (in an MPI shared-memory window), and the cores a borrower may run on.
#include "gridmr/runtime/spare_cores.hpp"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <vector>

namespace gridmr {

namespace {

// A lock-free atomic is address-free, so processes that map the same memory
// may share it.
static_assert(std::atomic<int>::is_always_lock_free);

std::atomic<int> own_pool{0};
std::atomic<int>* pool = &own_pool;
std::atomic<int> lent_here{0};  // what this process has lent and not withdrawn

MPI_Comm node_comm = MPI_COMM_NULL;
MPI_Win node_window = MPI_WIN_NULL;
cpu_set_t node_cores;  // the union of the node's ranks' cores, while shared

// The cores OpenMP's places hold (OMP_PLACES, or those OMP_PROC_BIND chose),
// which it binds threads to; none when it binds no thread.
cpu_set_t openmp_cores() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int place = 0; place < omp_get_num_places(); ++place) {
    std::vector<int> ids(static_cast<std::size_t>(omp_get_place_num_procs(place)));
    omp_get_place_proc_ids(place, ids.data());
    for (const int id : ids) {
      if (id >= 0 && id < CPU_SETSIZE) CPU_SET(id, &all);
    }
  }
  return all;
}

}  // namespace

void SpareCores::lend() {
  lent_here.fetch_add(1, std::memory_order_relaxed);
  pool->fetch_add(1, std::memory_order_relaxed);
}

bool SpareCores::borrow() {
  int cores = pool->load(std::memory_order_relaxed);
  while (cores > 0) {
    if (pool->compare_exchange_weak(cores, cores - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void SpareCores::give_back() { pool->fetch_add(1, std::memory_order_relaxed); }

void SpareCores::withdraw() {
  pool->fetch_sub(lent_here.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
}

void SpareCores::clear() {
  lent_here.store(0, std::memory_order_relaxed);
  own_pool.store(0, std::memory_order_relaxed);
}

bool SpareCores::share_with_node(MPI_Comm node_ranks, const cpu_set_t& cores) {
  if (node_comm != MPI_COMM_NULL) return true;
  int node_rank = 0, ranks = 1;
  MPI_Comm_rank(node_ranks, &node_rank);
  MPI_Comm_size(node_ranks, &ranks);
  if (ranks == 1) return false;
  MPI_Comm node;
  MPI_Comm_dup(node_ranks, &node);
  // The node's first rank holds the counter. A window that cannot be made
  // (an MPI without shared memory) leaves every rank its own pool.
  MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN);
  void* base = nullptr;
  MPI_Win window = MPI_WIN_NULL;
  int made = MPI_Win_allocate_shared(node_rank == 0 ? sizeof(std::atomic<int>) : 0, 1,
                                     MPI_INFO_NULL, node, &base, &window) == MPI_SUCCESS;
  void* counter = nullptr;
  if (made) {
    MPI_Aint size = 0;
    int unit = 0;
    made = MPI_Win_shared_query(window, 0, &size, &unit, &counter) == MPI_SUCCESS &&
           counter != nullptr && size >= static_cast<MPI_Aint>(sizeof(std::atomic<int>));
  }
  if (made && node_rank == 0) new (counter) std::atomic<int>(0);
  int everyone = 0;  // (which also waits for the counter to be made)
  MPI_Allreduce(&made, &everyone, 1, MPI_INT, MPI_LAND, node);
  if (!everyone) {  // a window some ranks lack cannot be freed together: it stays
    MPI_Comm_free(&node);
    return false;
  }
  node_comm = node;
  node_window = window;
  node_cores = cores;
  // What this process lent so far goes over to the node's pool.
  const int lent = lent_here.load(std::memory_order_relaxed);
  own_pool.fetch_sub(lent, std::memory_order_relaxed);
  pool = static_cast<std::atomic<int>*>(counter);
  pool->fetch_add(lent, std::memory_order_relaxed);
  return true;
}

void SpareCores::stop_sharing() {
  if (node_comm == MPI_COMM_NULL) return;
  withdraw();
  pool = &own_pool;
  MPI_Win_free(&node_window);
  MPI_Comm_free(&node_comm);
}

bool SpareCores::shared() { return node_comm != MPI_COMM_NULL; }

void SpareCores::run_on_any_core() {
  static const cpu_set_t openmp = openmp_cores();
  cpu_set_t cores = shared() && CPU_COUNT(&node_cores) > 0 ? node_cores : openmp;
  if (CPU_COUNT(&cores) == 0) return;
  // Not on the cores of the thread it helps, where it would be woken (the
  // kernel keeps a woken thread near its waker) and share one core with it.
  cpu_set_t helped, others;
  if (::pthread_getaffinity_np(::pthread_self(), sizeof helped, &helped) == 0) {
    CPU_XOR(&others, &cores, &helped);
    CPU_AND(&others, &others, &cores);
    if (CPU_COUNT(&others) > 0) cores = others;
  }
  ::pthread_setaffinity_np(::pthread_self(), sizeof cores, &cores);
}

}  // namespace gridmr
