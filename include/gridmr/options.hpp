// Options: those every job shares (EngineOptions), and the way a job declares its own (JobOptions).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gridmr {

enum class Schedule { kDynamic, kStatic };

struct EngineOptions {
  std::string output;               // OUT.h5
  std::vector<std::string> inputs;  // files and directories (jobs that read files)
  int threads = 0;                  // 0: the cluster's default
  std::uint64_t unit_size = 16ull << 20;
  std::uint64_t memory = 1ull << 30;  // per rank: map tables, shuffle rounds, reduce table
  std::string scratch;                // where tables spill; empty: default_scratch_folder()
  Schedule schedule = Schedule::kDynamic;
  bool force = false;
  bool quiet = false;  // no progress and no summary line
  // Progress on rank 0's stderr: kAuto redraws one line on a terminal and prints
  // plain lines otherwise; kTty always redraws, kPlain always prints lines.
  enum class Progress { kAuto, kTty, kPlain, kNone };
  Progress progress = Progress::kAuto;
  bool stats = false;
  std::string command_line;
  std::vector<std::string> arguments;  // argv[1..], for the checkpoint's fingerprint

  // Checkpoint-restart (docs/cli.md): map output saved as it goes, reused by a rerun.
  enum class Restart { kNever, kAuto, kRequire };
  std::string checkpoint_dir;  // empty: no checkpoint
  Restart restart = Restart::kAuto;
  bool keep_checkpoint = false;
  double checkpoint_interval = 60;  // seconds between two saves of one rank

  // The files a job's options name as what it reads (JobOptions::input_file),
  // each with its option: never the output file, even with --force.
  std::vector<std::pair<std::string, std::string>> job_input_files;
};

// A job declares its options here, one call each, bound to a field of its
// Config. The field's initial value is the default, and --help shows it:
//   static void options(gridmr::JobOptions& o, Config& c) {
//     o.count("--samples", c.samples, "Number of samples; accepts 1e10");
//   }
// Values are checked after parsing; a bad one is a usage error naming the option.
class JobOptions {
 public:
  virtual ~JobOptions() = default;

  // A whole number >= 1 (or >= 0 with allow_zero); accepts 1e10-style values, 64-bit.
  virtual JobOptions& count(const std::string& name, std::uint64_t& value, const std::string& help,
                            bool allow_zero = false) = 0;
  // A signed whole number.
  virtual JobOptions& integer(const std::string& name, std::int64_t& value,
                              const std::string& help) = 0;
  // A floating-point number.
  virtual JobOptions& number(const std::string& name, double& value, const std::string& help) = 0;
  // A size in bytes: 4096, 64KiB, 16MiB, 2GiB, 10MB.
  virtual JobOptions& size(const std::string& name, std::uint64_t& bytes,
                           const std::string& help) = 0;
  virtual JobOptions& text(const std::string& name, std::string& value,
                           const std::string& help) = 0;
  // One of `choices`, as typed; anything else is a usage error listing them.
  virtual JobOptions& choice(const std::string& name, std::string& value,
                             const std::vector<std::string>& choices, const std::string& help) = 0;
  // On when given, off otherwise.
  virtual JobOptions& flag(const std::string& name, bool& value, const std::string& help) = 0;
  // (Declared last: the vtable of earlier releases keeps its order.)
  // A file the job reads (a list of items, a table): text as `text` takes it,
  // and the engine refuses to run when it is the output file (-o), so that
  // --force cannot replace the job's own input. The job opens and checks it.
  virtual JobOptions& input_file(const std::string& name, std::string& path,
                                 const std::string& help) {
    return text(name, path, help);
  }
};

}  // namespace gridmr
