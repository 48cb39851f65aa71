// How a failure on any rank becomes one message, one exit code, and no output.
#include "gridmr/run/failure.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <new>
#include <vector>

#include "gridmr/core/error.hpp"

namespace gridmr {

namespace {
std::string g_partial_output;  // set while a result file is being written
}

void register_partial_output(const std::string& path) { g_partial_output = path; }
void forget_partial_output() { g_partial_output.clear(); }

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
  if (!g_partial_output.empty()) ::unlink(g_partial_output.c_str());
  MPI_Abort(cluster.comm(), code);
  std::_Exit(code);
}

}  // namespace gridmr
