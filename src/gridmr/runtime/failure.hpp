// How a failure on any rank becomes one message, one exit code, and no output.
#pragma once

#include <mpi.h>

#include <exception>
#include <string>
#include <utility>

#include "gridmr/runtime/cluster.hpp"

namespace gridmr {

// Every rank learned of the failure: rank 0 prints `message`, all exit with `code`.
class JobFailed : public std::exception {
 public:
  JobFailed(int code, std::string message) : code_(code), message_(std::move(message)) {}
  int code() const { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  int code_;
  std::string message_;
};

// Exit code and message for an exception caught at a phase boundary.
int exit_code_of(const std::exception_ptr& error, std::string& message);

// How a rank waits for the others to agree: in MPI (which keeps its core
// busy, and answers soonest), or idle (polling a few thousand times a second,
// asleep in between), so that a core it lent does the work of another rank.
enum class Waiting { kBusy, kIdle };

// Collective. Runs `step` on every rank; if it failed on any rank, throws
// JobFailed on every rank with the first failing rank's message. `step` itself
// must not be collective (a rank that throws halfway would leave the others waiting).
void agree_on_error(MPI_Comm comm, const std::exception_ptr& local_error,
                    Waiting waiting = Waiting::kBusy);
void agree_on_error(const Cluster& cluster, const std::exception_ptr& local_error,
                    Waiting waiting = Waiting::kBusy);
template <class F>
void agree(MPI_Comm comm, F&& step, Waiting waiting = Waiting::kBusy) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  agree_on_error(comm, error, waiting);
}
template <class F>
void agree(const Cluster& cluster, F&& step, Waiting waiting = Waiting::kBusy) {
  agree(cluster.comm(), std::forward<F>(step), waiting);
}

// The partial output that must go if the job dies (removed by abort_job).
void register_partial_output(const std::string& path);
void forget_partial_output();

// SIGTERM and SIGINT remove the partial output, print one line (rank 0) and
// exit with kRunFailure at once. Under a launcher (mpirun, orted, srun's
// slurmstepd), a rank whose launcher is gone (killed, or ended after a
// SIGTERM) ends the same way within a tenth of a second, instead of running on
// (and perhaps publishing a result after the job was reported as failed).
void install_termination_handlers(const Cluster& cluster);

// Whether this rank's launcher has gone (its parent changed); false without one.
bool launcher_gone();

// Last resort for a failure inside a collective phase: print one line from
// this rank, remove the partial output, and take every rank down.
[[noreturn]] void abort_job(const Cluster& cluster, int code, const std::string& message);

// HDF5 was left with a file it could not close; finishing MPI normally would
// crash in HDF5's shutdown, so a failed job must end with MPI_Abort instead.
void hdf5_left_unclean();

// After every rank agreed that the job failed (and rank 0 said why): returns
// `code`, or ends the job with MPI_Abort if hdf5_left_unclean() was called.
int finish_failed_job(const Cluster& cluster, int code);

// The job has finished and said so: later signals exit without a message.
void outcome_reported();

// Rank 0, just before it gives the partial file `partial` its final name
// `path`: a signal from here on that ends the job withdraws the result (below).
void result_about_to_publish(const std::string& partial, const std::string& path);

// The result now has its final name `path`. The exit code and the file must
// tell the same story, so a later SIGTERM or SIGINT depends on who sent it:
// - the launcher (mpirun, orted or slurmstepd passing one on), the terminal, or
//   this rank's own watch of a launcher that is gone: mpirun or srun will exit
//   non-zero whatever the ranks do, so rank 0 withdraws the result (removes
//   `path` if it is still this job's file), says so in one line, and every
//   rank exits 1;
// - any other process (a signal to the ranks alone), or any signal in a run
//   without a launcher: the rank finishes and exits 0, and rank 0 notes that
//   the result is complete.
void result_published(const std::string& path);

// MPI_Abort, after letting this rank's stderr reach mpirun.
[[noreturn]] void abort_after_output(MPI_Comm comm, int code);

// "gridmr: error: <message>" on stderr (and counts as the outcome).
void print_error(const std::string& message);

}  // namespace gridmr
