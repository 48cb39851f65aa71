// How a failure on any rank becomes one message, one exit code, and no output.
#include "gridmr/run/failure.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "gridmr/core/error.hpp"

namespace gridmr {

namespace {

// The partial output to remove if the job dies, in a plain buffer so that a
// signal handler may read it (async-signal-safe: no allocation, no locks).
char g_partial_output[4096] = {};
volatile std::sig_atomic_t g_is_master = 1;

void remove_partial_output() {
  if (g_partial_output[0] != '\0') ::unlink(g_partial_output);
}

// SIGTERM (scancel, time limits, mpirun forwarding) or SIGINT (Ctrl-C): remove
// the partial output and leave at once. mpirun or srun then ends the other ranks,
// which received the same signal anyway.
extern "C" void on_termination_signal(int signal) {
  remove_partial_output();
  if (g_is_master) {
    const char* text = signal == SIGINT ? "gridmr: error: interrupted (SIGINT); no output written\n"
                                        : "gridmr: error: terminated (SIGTERM); no output written\n";
    [[maybe_unused]] const auto written = ::write(STDERR_FILENO, text, std::strlen(text));
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

void install_termination_handlers(const Cluster& cluster) {
  g_is_master = cluster.is_master();
  struct sigaction action {};
  action.sa_handler = on_termination_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

void print_error(const std::string& message) {
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

void agree_on_error(const Cluster& cluster, const std::exception_ptr& local_error) {
  const int me = local_error ? cluster.rank() : cluster.size();
  int first = cluster.size();
  MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, cluster.comm());
  if (first == cluster.size()) return;

  std::string message;
  int code = 0;
  if (cluster.rank() == first) code = exit_code_of(local_error, message);
  int length = static_cast<int>(message.size());
  MPI_Bcast(&code, 1, MPI_INT, first, cluster.comm());
  MPI_Bcast(&length, 1, MPI_INT, first, cluster.comm());
  message.resize(length);
  MPI_Bcast(message.data(), length, MPI_CHAR, first, cluster.comm());
  if (first != 0 && code == kRunFailure) message = fmt::format("rank {}: {}", first, message);
  throw JobFailed(code, message);
}

void abort_job(const Cluster& cluster, int code, const std::string& message) {
  print_error(cluster.size() > 1 ? fmt::format("rank {}: {}", cluster.rank(), message) : message);
  remove_partial_output();
  MPI_Abort(cluster.comm(), code);
  std::_Exit(code);
}

}  // namespace gridmr
