// The command line's own checks of a program's jobs: a job that cannot be a
// subcommand is one error line and exit code 1, not a crash in CLI11.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <gridmr/main.hpp>
#include <iterator>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace {

gridmr::JobEntry entry(const char* name, std::vector<std::string> option_names = {}) {
  return {name,
          "a job for the test",
          gridmr::Input::kText,
          [option_names](gridmr::JobOptions& options) {
            static std::string text;
            for (const auto& option : option_names) options.text(option, text, "an option");
          },
          [] { return std::unique_ptr<gridmr::JobRuntime>(); },
          {}};
}

struct Outcome {
  int code;
  std::string err;
};

// Runs the command line with `arguments`, stdout and stderr sent to files.
Outcome run(std::vector<gridmr::JobEntry> jobs, std::vector<std::string> arguments) {
  TempDir dir;
  const std::string out_path = (dir.path / "out").string(), err_path = (dir.path / "err").string();
  std::fflush(stdout);
  std::fflush(stderr);
  const int saved_out = ::dup(1), saved_err = ::dup(2);
  REQUIRE(std::freopen(out_path.c_str(), "w", stdout) != nullptr);
  REQUIRE(std::freopen(err_path.c_str(), "w", stderr) != nullptr);
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const int code =
      gridmr::run_command_line(static_cast<int>(arguments.size()), argv.data(), std::move(jobs));
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
  std::ifstream in(err_path);
  return {code, std::string(std::istreambuf_iterator<char>(in), {})};
}

}  // namespace

TEST_CASE("a job that cannot be a subcommand is one error line, exit code 1") {
  struct Case {
    std::vector<gridmr::JobEntry> jobs;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{entry("cat")},
       "gridmr: error: this program's job 'cat' cannot be run: 'cat' is gridmr's own command "
       "(show, cat, plot); rename the job\n"},
      {{entry("count"), entry("show")}, "gridmr: error: this program's job 'show' cannot be run"},
      {{entry("count"), entry("count")},
       "gridmr: error: this program's job 'count' cannot be run: two of its jobs have this name\n"},
      {{entry("")}, "gridmr: error: this program's job '' cannot be run: a job's name must be"},
      {{entry("-x")}, "gridmr: error: this program's job '-x' cannot be run: a job's name must"},
      {{entry("a b")}, "gridmr: error: this program's job 'a b' cannot be run: a job's name must"},
      {{entry("count", {"--threads"})},
       "gridmr: error: this program's job 'count' cannot be run: added option matched existing "
       "option name: threads is already added\n"},
      {{entry("count", {"--level", "--level"})},
       "gridmr: error: this program's job 'count' cannot be run: "},
  };
  for (const auto& c : cases) {
    for (const char* argument : {"--help", "show"}) {
      const Outcome outcome = run(c.jobs, {"gridmr", argument});
      CAPTURE(c.expected);
      CHECK(outcome.code == 1);
      CHECK(outcome.err.rfind(c.expected, 0) == 0);
      CHECK(std::count(outcome.err.begin(), outcome.err.end(), '\n') == 1);
    }
  }
}

TEST_CASE("jobs with good names parse as before") {
  const Outcome outcome = run({entry("count"), entry("sum", {"--level"})}, {"gridmr", "--help"});
  CHECK(outcome.code == 0);
  CHECK(outcome.err.empty());
  const Outcome missing = run({entry("count")}, {"gridmr", "show"});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("file is required") != std::string::npos);
}
