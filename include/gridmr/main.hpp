// gridmr::main<Jobs...>(argc, argv): the whole command line for any set of jobs.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "gridmr/detail/runtime.hpp"
#include "gridmr/detail/runtime_for.hpp"
#include "gridmr/job.hpp"
#include "gridmr/result_file.hpp"

namespace gridmr {

// A job as the command line sees it: its subcommand, its options bound to a
// Config, and what runs it once they are parsed.
struct JobEntry {
  const char* name;
  const char* description;
  Input input;
  std::function<void(JobOptions&)> declare_options;
  std::function<std::unique_ptr<JobRuntime>()> make_runtime;  // with the parsed Config
  std::function<void(const ResultFile&, std::size_t top, std::FILE*)> show;  // may be empty
};

template <Job J>
JobEntry job_entry() {
  auto config = std::make_shared<typename J::Config>();
  JobEntry entry{J::name,
                 J::description,
                 J::input,
                 [config](JobOptions& options) { J::options(options, *config); },
                 [config] { return make_runtime<J>(*config); },
                 {}};
  if constexpr (requires(const ResultFile& f, std::size_t n, std::FILE* o) { J::show(f, n, o); }) {
    entry.show = [](const ResultFile& file, std::size_t top, std::FILE* out) {
      J::show(file, top, out);
    };
  }
  return entry;
}

// The engine's command line: a subcommand per job, `show`, engine options,
// MPI set-up, signals, progress, --stats, and exit codes (docs/cli.md).
int run_command_line(int argc, char** argv, std::vector<JobEntry> jobs);

// A complete program:  int main(int argc, char** argv) {
//                        return gridmr::main<MyJob, MyOtherJob>(argc, argv);
//                      }
template <Job... Jobs>
int main(int argc, char** argv) {
  return run_command_line(argc, argv, {job_entry<Jobs>()...});
}

}  // namespace gridmr
