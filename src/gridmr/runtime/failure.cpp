// How a failure on any rank becomes one message, one exit code, and no output.
#include "gridmr/runtime/failure.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <thread>
#include <vector>

#include "gridmr/errors.hpp"
#include "gridmr/runtime/children.hpp"

namespace gridmr {

namespace {

constexpr std::chrono::seconds kAgreementTimeout{10};
constexpr auto kIdlePoll = std::chrono::microseconds(200);  // as the scheduler's

// The partial output to remove if the job dies, in a plain buffer so that a
// signal handler may read it (async-signal-safe: no allocation, no locks).
char g_partial_output[4096] = {};
volatile std::sig_atomic_t g_is_master = 1;
// Set once the job has said how it ended (an error line, or a finished result):
// a signal after that (mpirun winding down the other ranks) must not add a line.
volatile std::sig_atomic_t g_outcome_reported = 0;
// Set once the result carries its final name: a signal after that no longer
// ends the rank (it finishes and exits 0; rank 0 notes the signal).
volatile std::sig_atomic_t g_published = 0;
volatile std::sig_atomic_t g_signal_noted = 0;
char g_output[4096] = {};
// What rank 0 says when SIGTERM ends a job of several ranks: mpirun ends every
// rank that way when one of them or its node fails, and names which in its own
// message (which `mpirun -q` hides).
volatile std::sig_atomic_t g_several_ranks = 0;

void remove_partial_output() {
  if (g_partial_output[0] != '\0') ::unlink(g_partial_output);
}

pid_t g_launcher = 0;  // the parent that started this rank; 0 for a singleton run

// Rank 0's result file, by identity, from just before it takes its final name
// (g_output): withdrawing it must never remove a file of someone else's.
volatile std::sig_atomic_t g_result_known = 0;
dev_t g_result_device = 0;
ino_t g_result_inode = 0;

// Removes the published result if it is still this job's file; true if it did.
bool withdraw_result() {
  if (!g_result_known || g_output[0] == '\0') return false;
  struct stat st {};
  if (::lstat(g_output, &st) != 0 || st.st_dev != g_result_device || st.st_ino != g_result_inode) {
    return false;
  }
  return ::unlink(g_output) == 0;
}

// Whether a signal means that the launcher ends the job, and so will exit
// non-zero whatever this rank does: it came from the launcher (mpirun, orted
// and slurmstepd pass SIGTERM on so), from this rank's watch of a launcher
// that is gone (it signals its own process), or from the kernel (Ctrl-C on the
// terminal, which reaches mpirun too). A run without a launcher ends as its
// rank does.
bool launcher_ends_job(const siginfo_t* info) {
  if (g_launcher == 0) return false;
  if (info->si_code != SI_USER && info->si_code != SI_QUEUE) return true;
  return info->si_pid == g_launcher || info->si_pid == ::getpid();
}

void write_stderr(const char* text) {
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, text, std::strlen(text));
}

// The parts as one line in one write(): mpirun may kill a rank at any moment
// once it ends the job, and must not get half a line. Async-signal-safe.
void write_stderr_line(std::initializer_list<const char*> parts) {
  static char line[sizeof g_output + 512];
  std::size_t n = 0;
  for (const char* part : parts) {
    const std::size_t size = std::min(std::strlen(part), sizeof line - n);
    std::memcpy(line + n, part, size);
    n += size;
  }
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line, n);
}

// SIGTERM (scancel, time limits, mpirun forwarding) or SIGINT (Ctrl-C): remove
// the partial output and leave at once. mpirun or srun then ends the other ranks,
// which received the same signal anyway.
extern "C" void on_termination_signal(int signal, siginfo_t* info, void*) {
  const bool ending = launcher_ends_job(info);
  const char* what = signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)";
  if (g_published && !ending) {
    // The result is complete and published: say so, and let the rank finish
    // its last steps (statistics, MPI_Finalize) and exit 0. Leaving here
    // without MPI_Finalize would make mpirun report a failure.
    if (g_is_master && !g_signal_noted) {
      g_signal_noted = 1;
      write_stderr_line(
          {"gridmr: note: ", what, " after the result was written; '", g_output, "' is complete\n"});
    }
    return;
  }
  // After the commit, the launcher ending the job: rank 0 withdraws the result.
  // The other ranks wait for their launcher to kill them, so that none leaves
  // first and makes mpirun kill rank 0 midway.
  if (g_published && !g_is_master && !launcher_gone()) return;
  kill_child_groups();
  remove_partial_output();
  // The commit may be done or under way (rank 0 alone publishes).
  if (g_is_master && withdraw_result()) {
    write_stderr_line({"gridmr: error: ", what, " just as the result was written; '", g_output,
                       "' withdrawn, since mpirun (or srun) fails a job it stops with a signal\n"});
    ::_exit(kRunFailure);
  }
  if (!g_is_master && ending && g_several_ranks) {
    // Rank 0 says what happened. The launcher kills every rank as soon as one
    // has left, and on a busy node rank 0 may not yet have run its handler:
    // give it a moment before leaving (mpirun's own kill may come sooner).
    const timespec moment{0, 250'000'000};
    ::nanosleep(&moment, nullptr);
  }
  if (g_is_master && !g_outcome_reported) {
    const char* text =
        signal == SIGINT ? "gridmr: error: interrupted (SIGINT); no output written\n"
        : g_several_ranks
            ? "gridmr: error: terminated (SIGTERM); no output written (mpirun stops every rank "
              "this way when a rank or a node fails: its message names which)\n"
            : "gridmr: error: terminated (SIGTERM); no output written\n";
    write_stderr(text);
  }
  ::_exit(kRunFailure);
}

}  // namespace

void register_partial_output(const std::string& path) {
  if (path.size() >= sizeof g_partial_output) {
    throw UsageError("output path is too long: '" + path + "'");
  }
  std::memcpy(g_partial_output, path.c_str(), path.size() + 1);
}

void forget_partial_output() { g_partial_output[0] = '\0'; }

bool launcher_gone() { return g_launcher != 0 && ::getppid() != g_launcher; }

void install_termination_handlers(const Cluster& cluster) {
  g_is_master = cluster.is_master();
  g_several_ranks = cluster.size() > 1;
  struct sigaction action {};
  action.sa_sigaction = on_termination_signal;
  action.sa_flags = SA_SIGINFO;  // who sent it decides what a late signal means
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // A rank started by mpirun, orted or srun watches its parent: once it is
  // gone, so is the job (mpirun killed, or ended early after a SIGTERM).
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
                        std::getenv("SLURM_STEP_ID") != nullptr ||
                        std::getenv("PMIX_RANK") != nullptr;
  if (launched && g_launcher == 0) {
    g_launcher = ::getppid();
    std::thread([] {
      while (!launcher_gone()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::kill(::getpid(), SIGTERM);
    }).detach();
  }
}

void outcome_reported() { g_outcome_reported = 1; }

namespace {
void set_output(const std::string& path) {
  const std::size_t n = std::min(path.size(), sizeof g_output - 1);
  std::memcpy(g_output, path.data(), n);
  g_output[n] = '\0';
}
}  // namespace

void result_about_to_publish(const std::string& partial, const std::string& path) {
  struct stat st {};
  if (::stat(partial.c_str(), &st) != 0) return;  // publishing will say what is wrong
  set_output(path);
  g_result_device = st.st_dev;
  g_result_inode = st.st_ino;
  g_result_known = 1;
}

void result_published(const std::string& path) {
  set_output(path);
  g_published = 1;
}

namespace {
bool g_hdf5_unclean = false;
}

void hdf5_left_unclean() { g_hdf5_unclean = true; }

int finish_failed_job(const Cluster& cluster, int code) {
  int unclean = g_hdf5_unclean, anyone = 0;
  MPI_Allreduce(&unclean, &anyone, 1, MPI_INT, MPI_LOR, cluster.comm());
  if (!anyone) return code;
  // Rank 0 said why; it alone ends the job, once its line has left the process.
  if (!cluster.is_master()) {
    for (;;) ::pause();  // until MPI_Abort ends this rank too
  }
  remove_partial_output();
  abort_after_output(cluster.comm(), code);
}

void print_error(const std::string& message) {
  g_outcome_reported = 1;
  std::fprintf(stderr, "gridmr: error: %s\n", message.c_str());
  std::fflush(stderr);
}

int exit_code_of(const std::exception_ptr& error, std::string& message) {
  try {
    std::rethrow_exception(error);
  } catch (const JobFailed& e) {
    message = e.what();
    return e.code();
  } catch (const UsageError& e) {
    message = e.what();
    return kUsageError;
  } catch (const std::bad_alloc&) {
    message = "out of memory";
    return kRunFailure;
  } catch (const std::exception& e) {
    message = e.what();
    return kRunFailure;
  } catch (...) {
    message = "unknown failure";
    return kRunFailure;
  }
}

void agree_on_error(MPI_Comm comm, const std::exception_ptr& local_error, Waiting waiting) {
  int rank = 0, ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  const int me = local_error ? rank : ranks;
  int first = ranks;
  MPI_Request request;
  MPI_Iallreduce(&me, &first, 1, MPI_INT, MPI_MIN, comm, &request);
  if (!local_error && waiting == Waiting::kBusy) {
    MPI_Wait(&request, MPI_STATUS_IGNORE);
  } else if (!local_error) {
    for (int done = 0;;) {
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) break;
      std::this_thread::sleep_for(kIdlePoll);
    }
  } else {
    // A failure can leave other ranks waiting inside a collective call that
    // this rank abandoned (parallel HDF5 does that). If they do not arrive in
    // time, they never will: say what happened and take the job down.
    const auto deadline = std::chrono::steady_clock::now() + kAgreementTimeout;
    for (int done = 0;;) {
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) break;
      if (std::chrono::steady_clock::now() > deadline) {
        std::string message;
        exit_code_of(local_error, message);
        print_error(rank != 0 ? fmt::format("rank {}: {}", rank, message) : message);
        remove_partial_output();
        abort_after_output(comm, kRunFailure);
      }
      ::usleep(1000);
    }
  }
  if (first == ranks) return;

  std::string message;
  int code = 0;
  if (rank == first) code = exit_code_of(local_error, message);
  int length = static_cast<int>(message.size());
  MPI_Bcast(&code, 1, MPI_INT, first, comm);
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  message.resize(length);
  MPI_Bcast(message.data(), length, MPI_CHAR, first, comm);
  if (first != 0 && code == kRunFailure) message = fmt::format("rank {}: {}", first, message);
  throw JobFailed(code, message);
}

void agree_on_error(const Cluster& cluster, const std::exception_ptr& local_error,
                    Waiting waiting) {
  agree_on_error(cluster.comm(), local_error, waiting);
}

void abort_after_output(MPI_Comm comm, int code) {
  // mpirun forwards a rank's stderr through a pipe to its daemon; MPI_Abort
  // kills the job without draining it, so give the line a moment to pass.
  std::fflush(stderr);
  ::usleep(200'000);
  MPI_Abort(comm, code);
  std::_Exit(code);
}

void abort_job(const Cluster& cluster, int code, const std::string& message) {
  print_error(cluster.size() > 1 ? fmt::format("rank {}: {}", cluster.rank(), message) : message);
  kill_child_groups();
  remove_partial_output();
  abort_after_output(cluster.comm(), code);
}

}  // namespace gridmr
