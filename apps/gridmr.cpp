// gridmr: the command-line front end (CLI11). Parses options on every rank,
// runs the chosen job, and turns failures into one message and an exit code.
#include <CLI/CLI.hpp>
#include <boost/mpi/environment.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/show.hpp"
#include "gridmr/core/error.hpp"
#include "gridmr/core/sizes.hpp"
#include "gridmr/output/h5.hpp"
#include "gridmr/run/cluster.hpp"
#include "gridmr/run/engine.hpp"
#include "gridmr/run/failure.hpp"
#include "gridmr/version.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/wordcount.hpp"

namespace {

using gridmr::EngineOptions;

// Option text as typed, converted after parsing so that errors read the same everywhere.
struct EngineOptionText {
  std::string unit_size = "16MiB";
  std::string memory = "1GiB";
  std::string schedule = "dynamic";
};

void add_engine_options(CLI::App& job, EngineOptions& options, EngineOptionText& text,
                        bool reads_files) {
  job.add_option("-o,--output", options.output, "Result file to write (HDF5); required")
      ->required()
      ->type_name("OUT.h5");
  job.add_option("--threads", options.threads,
                 "OpenMP threads per rank (default: OMP_NUM_THREADS, else the cores bound to the "
                 "rank, else the node's cores divided among its ranks)")
      ->check(CLI::Range(1, 4096))
      ->type_name("N");
  if (reads_files) {
    job.add_option("--unit-size", text.unit_size,
                   "Size of a work unit; accepts B, KiB, MiB, GiB (default: 16MiB)")
        ->type_name("SIZE");
  }
  job.add_option("--memory", text.memory,
                 "Memory per rank for one shuffle round (send and receive buffers); larger "
                 "shuffles run in several rounds (default: 1GiB)")
      ->type_name("SIZE");
  job.add_option("--schedule", text.schedule,
                 "How rank 0 hands out work units: dynamic = batches on request, so slower ranks "
                 "take fewer; static = one contiguous share per rank, balanced by bytes "
                 "(default: dynamic)")
      ->check(CLI::IsMember({"dynamic", "static"}))
      ->type_name("MODE");
  job.add_flag("--force", options.force, "Replace OUT if it exists");
  job.add_flag("--quiet", options.quiet,
               "Print no progress (otherwise rank 0 shows units done, throughput and ETA on "
               "stderr for runs longer than a second)");
  job.add_flag("--stats", options.stats, "Print a table of per-rank statistics at the end");
}

void finish_engine_options(EngineOptions& options, const EngineOptionText& text) {
  options.unit_size = gridmr::parse_size(text.unit_size, "--unit-size");
  options.memory = gridmr::parse_size(text.memory, "--memory");
  options.schedule = text.schedule == "static" ? gridmr::Schedule::kStatic : gridmr::Schedule::kDynamic;
}

std::string quoted_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    const bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (!line.empty()) line += ' ';
    if (plain) {
      line += arg;
    } else {
      line += '\'';
      for (char c : arg) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
      line += '\'';
    }
  }
  return line;
}

template <class Job>
int run(const gridmr::Cluster& cluster, const EngineOptions& options,
        const typename Job::Config& config) {
  try {
    gridmr::run_job<Job>(cluster, options, config);
    return gridmr::kSuccess;
  } catch (const gridmr::JobFailed& failure) {
    if (cluster.is_master()) gridmr::print_error(failure.what());
    return gridmr::finish_failed_job(cluster, failure.code());
  } catch (...) {
    // A failure inside a collective phase: the other ranks cannot be told in
    // an orderly way, so this rank reports and takes the job down.
    std::string message;
    const int code = gridmr::exit_code_of(std::current_exception(), message);
    gridmr::abort_job(cluster, code, message);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gridmr::prefer_shared_memory_transport();  // before MPI_Init: it reads the environment
  boost::mpi::environment environment(argc, argv, boost::mpi::threading::funneled, false);
  const gridmr::Cluster cluster(MPI_COMM_WORLD);
  gridmr::h5::silence_default_error_printing();
  gridmr::install_termination_handlers(cluster);

  CLI::App app{"gridmr: MapReduce batch jobs on MPI clusters.\n"
               "Run jobs under mpirun or srun; `show` runs alone.",
               "gridmr"};
  app.set_version_flag("--version", gridmr::kVersion);
  app.require_subcommand(1, 1);
  app.fallthrough(false);

  EngineOptions options;
  EngineOptionText option_text;
  options.command_line = quoted_command_line(argc, argv);

  jobs::WordCount::Config wordcount;
  CLI::App* wordcount_cmd =
      app.add_subcommand("wordcount", "Count the words of text files (DESIGN.md's word rule)");
  add_engine_options(*wordcount_cmd, options, option_text, true);
  wordcount_cmd->add_option("INPUT", wordcount.inputs, "Files or directories (walked recursively)")
      ->required()
      ->type_name("INPUT...");

  jobs::MonteCarlo::Config montecarlo;
  std::string samples_text = "1e9", unit_samples_text = "16777216", seed_text = "1";
  CLI::App* montecarlo_cmd = app.add_subcommand(
      "montecarlo", "Estimate pi from random points in the unit square, reproducibly");
  add_engine_options(*montecarlo_cmd, options, option_text, false);
  montecarlo_cmd->add_option("--samples", samples_text, "Number of samples; accepts 1e10 (default: 1e9)")
      ->type_name("N");
  montecarlo_cmd->add_option("--seed", seed_text,
                             "Seed of the random stream, 0 to 2^64-1 (default: 1)")
      ->type_name("S");
  montecarlo_cmd->add_option("--unit-samples", unit_samples_text,
                             "Samples per work unit (default: 16777216)")
      ->type_name("N");

  std::string show_path;
  std::size_t show_top = 10;
  CLI::App* show_cmd = app.add_subcommand("show", "Summarise a result file");
  show_cmd->add_option("file", show_path, "Result file (HDF5)")->required()->type_name("OUT.h5");
  show_cmd->add_option("--top", show_top, "How many of the most frequent keys to list (default: 10)")
      ->type_name("N");

  try {
    app.parse(argc, argv);
    finish_engine_options(options, option_text);
    if (montecarlo_cmd->parsed()) {
      montecarlo.samples = gridmr::parse_count(samples_text, "--samples");
      montecarlo.unit_samples = gridmr::parse_count(unit_samples_text, "--unit-samples");
      montecarlo.seed = gridmr::parse_count(seed_text, "--seed", true);
    }
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      if (cluster.is_master()) app.exit(e);
      return gridmr::kSuccess;
    }
    if (cluster.is_master()) gridmr::print_error(e.what());
    return gridmr::kUsageError;
  } catch (const gridmr::UsageError& e) {
    if (cluster.is_master()) gridmr::print_error(e.what());
    return gridmr::kUsageError;
  }

  if (environment.thread_level() < boost::mpi::threading::funneled) {
    if (cluster.is_master()) gridmr::print_error("the MPI library does not support threads");
    return gridmr::kRunFailure;
  }

  if (show_cmd->parsed()) {
    if (!cluster.is_master()) return gridmr::kSuccess;
    try {
      gridmr::show_result(show_path, show_top, stdout);
      return gridmr::kSuccess;
    } catch (const std::exception& e) {
      std::string message;
      const int code = gridmr::exit_code_of(std::current_exception(), message);
      gridmr::print_error(message);
      return code;
    }
  }
  if (montecarlo_cmd->parsed()) return run<jobs::MonteCarlo>(cluster, options, montecarlo);
  return run<jobs::WordCount>(cluster, options, wordcount);
}
