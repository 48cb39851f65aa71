// Cores that map threads have left idle, lent to helpers: this process's, and
// those of the other ranks on its node.
#pragma once

#include <mpi.h>
#include <sched.h>

namespace gridmr {

// A map thread that has run out of units lends its core (Scheduler::next)
// until every rank has mapped; a helper thread that only pays on a core of its
// own, such as a decompressor decoding ahead of a unit's map, borrows one and
// gives it back when it ends. So a file read by one thread uses two cores once
// another thread, or another rank on the node, is done, and busy ranks start
// no extra threads. A rank whose map is over waits for the others idle
// (Waiting::kIdle), not in MPI, which would keep its core busy.
//
// The pool is a counter: the process's own, or, once share_with_node() has
// run, one in memory shared by the ranks of the node. Every lender takes back
// what it lent (withdraw) when it works again; a core borrowed at that moment
// leaves the count below zero until it is given back, so that no core is lent
// twice.
class SpareCores {
 public:
  static void lend();
  static bool borrow();  // false: none spare
  static void give_back();
  // Takes back every core this process has lent.
  static void withdraw();
  // The pool of this process alone emptied, whoever lent (tests).
  static void clear();

  // Collective over `node_ranks` (the ranks of this node): they share one
  // pool from now on, and a borrower may run on any of `cores` (those they
  // may run on). Nothing changes on a node that holds one rank. Returns
  // whether this rank shares.
  static bool share_with_node(MPI_Comm node_ranks, const cpu_set_t& cores);
  // Back to a pool of this process's own; collective over the same ranks.
  static void stop_sharing();
  static bool shared();

  // Lets the calling thread (a borrower's) run on any core a lender may have
  // lent: those of the node's ranks when the pool is shared, else those
  // OpenMP binds this process's threads to. A thread inherits its maker's
  // cores, which under OMP_PROC_BIND or mpirun's binding are the cores of the
  // map thread or the rank it helps.
  static void run_on_any_core();
};

}  // namespace gridmr
