// The process groups of a rank's children, in a fixed table of atomics that a
// signal handler may read.
#include "gridmr/runtime/children.hpp"

#include <signal.h>

#include <atomic>

namespace gridmr {

namespace {

constexpr int kMaxChildren = 4096;  // far more than threads per rank
std::atomic<pid_t> g_groups[kMaxChildren];
static_assert(std::atomic<pid_t>::is_always_lock_free);

}  // namespace

bool register_child_group(pid_t group) {
  for (auto& slot : g_groups) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, group)) return true;
  }
  return false;
}

void forget_child_group(pid_t group) {
  for (auto& slot : g_groups) {
    pid_t expected = group;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void kill_child_groups() {
  for (auto& slot : g_groups) {
    const pid_t group = slot.load();
    if (group > 0) ::kill(-group, SIGKILL);
  }
}

}  // namespace gridmr
