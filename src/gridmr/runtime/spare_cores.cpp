// The process's pool of spare cores: a counter, and the cores a borrower may run on.
#include "gridmr/runtime/spare_cores.hpp"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <vector>

namespace gridmr {

namespace {
std::atomic<int> spare{0};
}  // namespace

void SpareCores::lend() { spare.fetch_add(1, std::memory_order_relaxed); }

bool SpareCores::borrow() {
  int cores = spare.load(std::memory_order_relaxed);
  while (cores > 0) {
    if (spare.compare_exchange_weak(cores, cores - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void SpareCores::give_back() { lend(); }

void SpareCores::clear() { spare.store(0, std::memory_order_relaxed); }

void SpareCores::run_on_any_core() {
  // OpenMP's places (OMP_PLACES, or those OMP_PROC_BIND chose) hold the cores
  // it binds threads to; without places, threads are not bound.
  static const cpu_set_t cores = [] {
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
  }();
  if (CPU_COUNT(&cores) > 0) ::pthread_setaffinity_np(::pthread_self(), sizeof cores, &cores);
}

}  // namespace gridmr
