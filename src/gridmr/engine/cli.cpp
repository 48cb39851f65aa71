// The command line of any gridmr program (CLI11): parses options on every
// rank, runs the chosen job, and turns failures into one message and an exit code.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/mpi/environment.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/core/program_path.hpp"
#include "gridmr/core/sizes.hpp"
#include "gridmr/engine/cat.hpp"
#include "gridmr/engine/run_job.hpp"
#include "gridmr/engine/plot.hpp"
#include "gridmr/engine/show.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/main.hpp"
#include "gridmr/runtime/cluster.hpp"
#include "gridmr/runtime/failure.hpp"
#include "gridmr/simd/kernels.hpp"
#include "gridmr/variant.hpp"
#include "gridmr/version.hpp"
#include "gridmr/write/h5.hpp"

namespace gridmr {

namespace {

// A job's options on its CLI11 subcommand. Counts and sizes are kept as typed
// text and converted after parsing, so that their errors read the same as the
// engine's own options ("--samples: ...").
class CliJobOptions final : public JobOptions {
 public:
  explicit CliJobOptions(CLI::App& app) : app_(app) {}

  JobOptions& count(const std::string& name, std::uint64_t& value, const std::string& help,
                    bool allow_zero) override {
    return as_text(name, std::to_string(value), help,
                   [&value, name, allow_zero](const std::string& t) {
                     value = parse_count(t, name, allow_zero);
                   });
  }
  JobOptions& size(const std::string& name, std::uint64_t& bytes,
                   const std::string& help) override {
    return as_text(name, format_bytes_exact(bytes), help,
                   [&bytes, name](const std::string& t) { bytes = parse_size(t, name); });
  }
  JobOptions& integer(const std::string& name, std::int64_t& value,
                      const std::string& help) override {
    app_.add_option(name, value, with_default(help, std::to_string(value)))->type_name("N");
    return *this;
  }
  JobOptions& number(const std::string& name, double& value, const std::string& help) override {
    app_.add_option(name, value, with_default(help, fmt_double(value)))->type_name("X");
    return *this;
  }
  JobOptions& text(const std::string& name, std::string& value, const std::string& help) override {
    app_.add_option(name, value, value.empty() ? help : with_default(help, value))
        ->type_name("TEXT");
    return *this;
  }
  JobOptions& input_file(const std::string& name, std::string& path,
                         const std::string& help) override {
    app_.add_option(name, path, path.empty() ? help : with_default(help, path))->type_name("FILE");
    input_files_.emplace_back(name, &path);
    return *this;
  }
  JobOptions& choice(const std::string& name, std::string& value,
                     const std::vector<std::string>& choices, const std::string& help) override {
    std::string listed;
    for (const auto& c : choices) listed += (listed.empty() ? "" : "|") + c;
    app_.add_option(name, value, with_default(help, value))
        ->type_name(listed)
        ->check(CLI::IsMember(choices));
    return *this;
  }
  JobOptions& flag(const std::string& name, bool& value, const std::string& help) override {
    app_.add_flag(name, value, help);
    return *this;
  }

  // After parsing: converts the typed text of the options that were given,
  // and names the input files given in `options`.
  void finish(EngineOptions& options) {
    for (auto& step : finishers_) step();
    for (const auto& [name, path] : input_files_) {
      if (!path->empty()) options.job_input_files.emplace_back(name, *path);
    }
  }

 private:
  static std::string with_default(const std::string& help, const std::string& value) {
    return help + " (default: " + value + ")";
  }
  static std::string fmt_double(double value) {
    std::string text = std::to_string(value);
    while (text.size() > 1 && text.back() == '0' && text[text.size() - 2] != '.') text.pop_back();
    return text;
  }
  // "16MiB" for 16 << 20, else the number of bytes: a default that reads back exactly.
  static std::string format_bytes_exact(std::uint64_t bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < 4 && bytes != 0 && bytes % 1024 == 0) {
      bytes /= 1024;
      ++u;
    }
    return std::to_string(bytes) + units[u];
  }
  template <class Convert>
  JobOptions& as_text(const std::string& name, const std::string& shown, const std::string& help,
                      Convert convert) {
    auto text = std::make_shared<std::string>();
    CLI::Option* option = app_.add_option(name, *text, with_default(help, shown))->type_name("N");
    finishers_.push_back([text, option, convert] {
      if (option->count() > 0) convert(*text);
    });
    return *this;
  }

  CLI::App& app_;
  std::vector<std::function<void()>> finishers_;
  std::vector<std::pair<std::string, std::string*>> input_files_;
};

// Option text as typed, converted after parsing so that errors read the same everywhere.
struct EngineOptionText {
  std::string unit_size = "16MiB";
  std::string memory = "1GiB";
  std::string schedule = "dynamic";
  std::string restart = "auto";
  std::string progress = "auto";
};

void add_engine_options(CLI::App& job, Input input, EngineOptions& options,
                        EngineOptionText& text) {
  job.add_option("-o,--output", options.output, "Result file to write (HDF5); required")
      ->required()
      ->type_name("OUT.h5");
  job.add_option("--threads", options.threads,
                 "OpenMP threads per rank (default: OMP_NUM_THREADS, else the cores the rank may "
                 "run on, divided among the node's ranks that may run on them too)")
      ->check(CLI::Range(1, 4096))
      ->type_name("N");
  if (input == Input::kText) {
    job.add_option("--unit-size", text.unit_size,
                   "Size of a work unit; accepts B, KiB, MiB, GiB (default: 16MiB)")
        ->type_name("SIZE");
  }
  job.add_option("--memory", text.memory,
                 "Memory per rank for the job's data: map tables (half), a shuffle round (a "
                 "quarter) and the reduce table (a quarter); tables that outgrow their share "
                 "spill sorted runs to --scratch (default: 1GiB)")
      ->type_name("SIZE");
  job.add_option("--scratch", options.scratch,
                 "Folder for spilled runs, on a local disk of each node (default: $TMPDIR, "
                 "else /tmp; under Slurm $SLURM_TMPDIR first)")
      ->type_name("DIR");
  job.add_option("--schedule", text.schedule,
                 "How rank 0 hands out work units: dynamic = batches on request, so slower ranks "
                 "take fewer; static = one contiguous share per rank, balanced by bytes "
                 "(default: dynamic)")
      ->check(CLI::IsMember({"dynamic", "static"}))
      ->type_name("MODE");
  job.add_flag("--force", options.force, "Replace OUT if it exists");
  job.add_option("--checkpoint", options.checkpoint_dir,
                 "Save map output to DIR as the map goes; the same command run again after a "
                 "failure skips the work already saved (on any number of ranks or threads)")
      ->type_name("DIR");
  job.add_option("--restart", text.restart,
                 "With --checkpoint: auto = resume a checkpoint of this same run if DIR has one; "
                 "never = start over (DIR is cleared); require = fail unless there is one "
                 "(default: auto)")
      ->check(CLI::IsMember({"never", "auto", "require"}))
      ->type_name("MODE");
  job.add_option("--checkpoint-interval", options.checkpoint_interval,
                 "With --checkpoint: seconds between two saves of a rank (default: 60)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS");
  job.add_flag("--keep-checkpoint", options.keep_checkpoint,
               "Keep the checkpoint after a successful run (it is removed otherwise)");
  job.add_flag("--quiet", options.quiet,
               "Print no progress and no summary line (errors only)");
  job.add_option("--progress", text.progress,
                 "Progress on stderr for runs longer than a second: auto (one line redrawn on a "
                 "terminal, plain lines every 5 s otherwise), tty, plain or none (default: auto)")
      ->check(CLI::IsMember({"auto", "tty", "plain", "none"}))
      ->type_name("MODE");
  job.add_flag("--stats", options.stats, "Print a table of per-rank statistics at the end");
  if (input != Input::kGenerated) {
    job.add_option("INPUT", options.inputs,
                   input == Input::kText
                       ? "Files or directories (walked recursively); *.gz, *.zst, *.bz2 and *.xz "
                         "are read decompressed, one work unit each (BGZF .gz, any .bz2, "
                         "multi-frame .zst and .xz of several blocks are cut into units)"
                       : "Files or directories (walked recursively); one work unit per file; "
                         "*.gz, *.zst, *.bz2 and *.xz are read decompressed")
        ->required()
        ->type_name("INPUT...");
  }
}

void finish_engine_options(EngineOptions& options, const EngineOptionText& text) {
  options.unit_size = parse_size(text.unit_size, "--unit-size");
  options.memory = parse_size(text.memory, "--memory");
  options.schedule = text.schedule == "static" ? Schedule::kStatic : Schedule::kDynamic;
  using P = EngineOptions::Progress;
  options.progress = options.quiet                  ? P::kNone
                     : text.progress == "tty"      ? P::kTty
                     : text.progress == "plain"    ? P::kPlain
                     : text.progress == "none"     ? P::kNone
                                                   : P::kAuto;
  options.restart = text.restart == "never"     ? EngineOptions::Restart::kNever
                    : text.restart == "require" ? EngineOptions::Restart::kRequire
                                                : EngineOptions::Restart::kAuto;
}

std::string quoted_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    const bool plain =
        !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
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

int run(const Cluster& cluster, const EngineOptions& options, JobRuntime& job) {
  try {
    run_job(cluster, options, job);
    return kSuccess;
  } catch (const JobFailed& failure) {
    if (cluster.is_master()) print_error(failure.what());
    return finish_failed_job(cluster, failure.code());
  } catch (...) {
    // A failure inside a collective phase: the other ranks cannot be told in
    // an orderly way, so this rank reports and takes the job down.
    std::string message;
    const int code = exit_code_of(std::current_exception(), message);
    abort_job(cluster, code, message);
  }
}

// Whether the command line asks for something that runs without MPI: `show`,
// `cat`, `plot`, or no command (--help, --version, a usage error). The command is
// the first argument that is not an option: the top-level options take no
// values. Starting MPI costs 0.1-0.2 s (a singleton starts Open MPI's runtime)
// and needs a working MPI set-up, which a login node reading a result may lack.
bool runs_without_mpi(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    const std::string_view command = argv[i];
    return command == "show" || command == "cat" || command == "plot";
  }
  return true;
}

// This process's rank as its launcher tells it, for a process that runs
// without MPI (`mpirun -np 4 gridmr show` prints once); 0 without a launcher.
int rank_from_environment() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "PMI_RANK"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

// A job's name is its subcommand: it must be a word of its own, unlike
// gridmr's own commands and the program's other jobs.
void check_job_name(std::string_view name, const std::vector<JobEntry>& jobs) {
  if (name.empty() || name.front() == '-' ||
      name.find_first_of(" \t\n/") != std::string_view::npos) {
    throw std::invalid_argument(
        "a job's name must be a word that does not start with '-' (no spaces or '/')");
  }
  for (std::string_view command : {"show", "cat", "plot"}) {
    if (name == command) {
      throw std::invalid_argument("'" + std::string(name) +
                                  "' is gridmr's own command (show, cat, plot); rename the job");
    }
  }
  std::size_t same = 0;
  for (const JobEntry& job : jobs) same += name == job.name;
  if (same > 1) throw std::invalid_argument("two of its jobs have this name");
}

}  // namespace

int run_command_line(int argc, char** argv, std::vector<JobEntry> jobs) {
  restore_environment_after_launch();
  std::optional<boost::mpi::environment> environment;
  std::optional<Cluster> cluster;
  if (!runs_without_mpi(argc, argv)) {
    prefer_shared_memory_transport();  // before MPI_Init: it reads the environment
    avoid_locked_file_pointers();
    yield_when_oversubscribed();
    skip_unused_startup_work();
    environment.emplace(argc, argv, boost::mpi::threading::funneled, false);
    send_launcher_messages_at_once();
    cluster.emplace(MPI_COMM_WORLD);
    install_termination_handlers(*cluster);
  }
  const bool master = cluster ? cluster->is_master() : rank_from_environment() == 0;
  h5::silence_default_error_printing();

  try {
    simd::choose_target_from_environment();
  } catch (const UsageError& e) {
    if (master) print_error(e.what());
    return kUsageError;
  }

  const std::string program =
      argc > 0 ? std::string(argv[0]).substr(std::string(argv[0]).rfind('/') + 1) : "gridmr";
  CLI::App app{"MapReduce batch jobs on MPI clusters (gridmr " + std::string(kVersion) +
                   ").\nRun jobs under mpirun or srun; `show`, `cat` and `plot` run alone.",
               program};
  app.set_version_flag("--version", [] {
    std::string program = this_program_path();
    if (program.empty()) program = "?";
    std::string text = "gridmr " + std::string(kVersion) + "\nprogram: " + program +
                       "\nSIMD target in use: " + simd::target_in_use() +
                       " (GRIDMR_SIMD=<name> to choose)\nSIMD targets this CPU supports:";
    for (const auto& name : simd::targets_supported()) text += " " + name;
    text += "\nSIMD targets compiled in:";
    for (const auto& name : simd::targets_compiled()) text += " " + name;
    return text;
  });
  app.require_subcommand(1, 1);
  app.fallthrough(false);

  EngineOptions options;
  EngineOptionText option_text;
  options.command_line = quoted_command_line(argc, argv);
  for (int i = 1; i < argc; ++i) options.arguments.emplace_back(argv[i]);

  // A job whose name or options clash is a defect of this program, not of the
  // command line: one line naming the job, before any parsing, on every rank.
  std::vector<CLI::App*> commands;
  std::vector<std::unique_ptr<CliJobOptions>> job_options;
  for (JobEntry& job : jobs) {
    try {
      check_job_name(job.name, jobs);
      CLI::App* command = app.add_subcommand(job.name, job.description);
      add_engine_options(*command, job.input, options, option_text);
      job_options.push_back(std::make_unique<CliJobOptions>(*command));
      job.declare_options(*job_options.back());
      commands.push_back(command);
    } catch (const std::exception& e) {
      if (master) {
        print_error("this program's job '" + std::string(job.name) + "' cannot be run: " + e.what());
      }
      return kRunFailure;
    }
  }

  std::string show_path;
  std::int64_t show_top = 10;
  CLI::App* show_command = app.add_subcommand("show", "Summarise a result file (of any job)");
  show_command->add_option("file", show_path, "Result file (HDF5)")
      ->required()
      ->type_name("OUT.h5");
  show_command
      ->add_option("--top", show_top,
                   "How many keys to list, largest values first (default: 10; 0 lists none)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("N");

  std::string cat_path, cat_object;
  bool cat_header = false;
  CLI::App* cat_command = app.add_subcommand(
      "cat", "Print a result's table as text: a line per key (or item), its fields tab-separated");
  cat_command->add_option("file", cat_path, "Result file (HDF5)")->required()->type_name("OUT.h5");
  cat_command
      ->add_option("object", cat_object,
                   "The group, dataset or key list to print (default: the job's group)")
      ->type_name("PATH");
  cat_command->add_flag("--header", cat_header, "Name the columns on a first line");

  std::string plot_path, plot_png;
  bool plot_force = false;
  CLI::App* plot_command =
      app.add_subcommand("plot", "Draw a run's timeline per rank (map, shuffle, reduce, write) and "
                                 "the units each rank mapped, as a PNG (needs gnuplot)");
  plot_command->add_option("file", plot_path, "Result file (HDF5)")->required()->type_name("OUT.h5");
  plot_command->add_option("-o,--output", plot_png, "The picture to write; required")
      ->required()
      ->type_name("PNG");
  plot_command->add_flag("--force", plot_force, "Replace an existing picture");

  try {
    app.parse(argc, argv);
    finish_engine_options(options, option_text);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (commands[i]->parsed()) job_options[i]->finish(options);
    }
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      if (master) app.exit(e);
      return kSuccess;
    }
    if (master) print_error(e.what());
    return kUsageError;
  } catch (const UsageError& e) {
    if (master) print_error(e.what());
    return kUsageError;
  }

  // `show`, `cat` and `plot` read a file on rank 0 alone; an error is one line and its exit code.
  const auto on_rank_zero = [&](auto&& action) -> int {
    if (!master) return kSuccess;
    try {
      action();
      return kSuccess;
    } catch (const std::exception&) {
      std::string message;
      const int code = exit_code_of(std::current_exception(), message);
      print_error(message);
      return code;
    }
  };
  if (show_command->parsed()) {
    return on_rank_zero(
        [&] { show_result(show_path, static_cast<std::size_t>(show_top), jobs, stdout); });
  }
  if (cat_command->parsed()) {
    return on_rank_zero([&] { cat_result(cat_path, cat_object, cat_header, stdout); });
  }
  if (plot_command->parsed()) {
    return on_rank_zero([&] {
      plot_result(plot_path, plot_png, plot_force);
      std::printf("gridmr: wrote %s\n", quote_path(plot_png).c_str());
    });
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!commands[i]->parsed()) continue;
    if (!cluster) return kUsageError;  // not reached: a job's name is never `show`, `cat` or `plot`
    if (environment->thread_level() < boost::mpi::threading::funneled) {
      if (master) print_error("the MPI library does not support threads");
      return kRunFailure;
    }
    std::unique_ptr<JobRuntime> job;
    try {
      job = jobs[i].make_runtime();
    } catch (const UsageError& e) {
      if (master) print_error(e.what());
      return kUsageError;
    }
    return run(*cluster, options, *job);
  }
  return kUsageError;  // not reached: CLI11 requires one subcommand
}

}  // namespace gridmr
