// How a failure on any rank becomes one message, one exit code, and no output.
#pragma once

#include <exception>
#include <string>

#include "gridmr/run/cluster.hpp"

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

// Collective. Runs `step` on every rank; if it failed on any rank, throws
// JobFailed on every rank with the first failing rank's message. `step` itself
// must not be collective (a rank that throws halfway would leave the others waiting).
void agree_on_error(const Cluster& cluster, const std::exception_ptr& local_error);
template <class F>
void agree(const Cluster& cluster, F&& step) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  agree_on_error(cluster, error);
}

// The partial output that must go if the job dies (removed by abort_job).
void register_partial_output(const std::string& path);
void forget_partial_output();

// SIGTERM and SIGINT remove the partial output, print one line (rank 0) and
// exit with kRunFailure at once.
void install_termination_handlers(const Cluster& cluster);

// Last resort for a failure inside a collective phase: print one line from
// this rank, remove the partial output, and take every rank down.
[[noreturn]] void abort_job(const Cluster& cluster, int code, const std::string& message);

// "gridmr: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace gridmr
