// The process groups of the child processes a rank runs (streaming mappers and
// reducers, farm items), so that any way the rank ends also ends them.
#pragma once

#include <sys/types.h>

namespace gridmr {

// Records a child's process group (its pid: children lead their own group).
// Returns false if the registry is full (the caller then kills the child).
bool register_child_group(pid_t group);
void forget_child_group(pid_t group);

// SIGKILL to every registered group. Async-signal-safe: the termination
// handlers and abort_job call it before the rank exits.
void kill_child_groups();

}  // namespace gridmr
