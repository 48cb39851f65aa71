// Cores of this process that its map threads have left idle, lent to helpers.
#pragma once

namespace gridmr {

// A map thread that has run out of units lends its core (Scheduler); a helper
// thread that only pays on a core of its own, such as a decompressor decoding
// ahead of a unit's map, borrows one and gives it back when it ends. So a
// file read by one thread uses two cores once the others are done, and a
// busy process starts no extra threads. The pool empties at every map's
// start and end.
class SpareCores {
 public:
  static void lend();
  static bool borrow();  // false: none spare
  static void give_back();
  static void clear();
  // Lets the calling thread (a borrower's) run on any core OpenMP binds
  // threads to: a thread inherits its maker's cores, which under
  // OMP_PROC_BIND are the one core of the map thread it helps.
  static void run_on_any_core();
};

}  // namespace gridmr
