// Checkpoint-restart: the manifest, run files, and restoring them.
#include "gridmr/checkpoint/checkpoint.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <mpi.h>
#include <omp.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/runtime/failure.hpp"
#include "gridmr/spill/runs.hpp"
#include "gridmr/spill/spill.hpp"
#include "gridmr/version.hpp"

namespace gridmr {

namespace {

constexpr char kRunMagic[8] = {'G', 'R', 'M', 'R', 'R', 'U', 'N', '1'};
constexpr char kEndMagic[8] = {'G', 'R', 'M', 'R', 'E', 'N', 'D', '1'};
constexpr const char* kManifest = "manifest";

// FNV-1a, 64 bits: a fingerprint, not a defence against anyone.
struct Fingerprint {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  }
  void add(std::string_view text) {
    add(text.data(), text.size());
    add("\0", 1);
  }
  void add(std::uint64_t v) { add(&v, sizeof v); }
};

// Options that change how a run goes, not what it computes: left out of the
// fingerprint, so that a rerun may use other ranks, threads or memory.
bool is_run_option(std::string_view arg, bool& takes_value) {
  static const char* const kWithValue[] = {"--threads", "--schedule", "--memory", "--scratch",
                                           "--checkpoint-interval", "--restart", "--progress"};
  static const char* const kFlags[] = {"--quiet", "--stats", "--force", "--keep-checkpoint"};
  for (const char* name : kWithValue) {
    if (arg == name) return takes_value = true;
    if (arg.starts_with(std::string(name) + "=")) return !(takes_value = false);
  }
  takes_value = false;
  return std::any_of(std::begin(kFlags), std::end(kFlags), [&](const char* f) { return arg == f; });
}

std::uint64_t fingerprint_of(const EngineOptions& options, const JobRuntime& job,
                             const Plan& plan) {
  Fingerprint f;
  f.add("gridmr checkpoint 1");
  f.add(kVersion);
  f.add(job.name());
  for (std::size_t i = 0; i < options.arguments.size(); ++i) {
    bool takes_value = false;
    if (is_run_option(options.arguments[i], takes_value)) {
      if (takes_value) ++i;
      continue;
    }
    f.add(options.arguments[i]);
  }
  for (const std::string& source : plan.sources) {  // input files (a farm's: its items)
    f.add(source);
    struct stat st {};
    if (::stat(source.c_str(), &st) == 0) {
      f.add(static_cast<std::uint64_t>(st.st_size));
      f.add(static_cast<std::uint64_t>(st.st_mtim.tv_sec));
      f.add(static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
    }
  }
  f.add(plan.units.size());
  for (const WorkUnit& u : plan.units) f.add(&u, sizeof u);
  return f.h;
}

std::string path_in(const std::string& dir, const std::string& name) { return dir + "/" + name; }

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Removes the run files and the manifest (and leftovers of a killed save).
void clear_checkpoint(const std::string& dir) {
  for (const std::string& name : entries_of(dir)) {
    if (name == kManifest ||
        (name.starts_with("run-") &&
         (ends_with(name, ".run") || name.find(".partial") != std::string::npos))) {
      ::unlink(path_in(dir, name).c_str());
    }
  }
}

void write_manifest(const std::string& dir, std::uint64_t fingerprint,
                    const EngineOptions& options) {
  const std::string path = path_in(dir, kManifest);
  const std::string temporary = path + ".partial";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << "gridmr-checkpoint 1\n"
        << "fingerprint " << fmt::format("{:016x}", fingerprint) << "\n"
        << "gridmr " << kVersion << "\n"
        << "command " << options.command_line << "\n";
    if (!out)
      throw RunError(errno_message("cannot write the checkpoint manifest", temporary, errno));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    throw RunError(errno_message("cannot write the checkpoint manifest", path, errno));
  }
}

// The manifest's fingerprint and command, or nothing if there is no manifest.
std::optional<std::pair<std::uint64_t, std::string>> read_manifest(const std::string& dir) {
  std::ifstream in(path_in(dir, kManifest));
  if (!in) return std::nullopt;
  std::string line, command;
  std::uint64_t fingerprint = 0;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.starts_with("fingerprint ")) {
      fingerprint = std::strtoull(line.c_str() + 12, nullptr, 16);
      found = true;
    } else if (line.starts_with("command ")) {
      command = line.substr(8);
    }
  }
  if (!found) {
    throw UsageError(
        fmt::format("--checkpoint: {} is damaged; remove it, or run with "
                    "--restart=never",
                    quote_path(path_in(dir, kManifest))));
  }
  return std::make_pair(fingerprint, command);
}

struct RunHeader {
  std::uint64_t fingerprint = 0;
  std::uint64_t value_size = 0;
  std::vector<WorkUnit> units;
  std::uint64_t records_at = 0;  // offset of the records
  std::uint64_t records = 0;     // their bytes
  std::uint64_t checksum = 0;    // FNV-1a of the units and the records
};

// Reads a run file's header and checks that the file is whole.
RunHeader read_run_header(const std::string& path) {
  const auto damaged = [&](const char* why) {
    return UsageError(
        fmt::format("--checkpoint: run file {} is damaged ({}); remove the "
                    "checkpoint, or run with --restart=never",
                    quote_path(path), why));
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(errno_message("--checkpoint: cannot open", path, errno));
  char magic[8];
  RunHeader h;
  std::uint64_t units = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&h.fingerprint), 8);
  in.read(reinterpret_cast<char*>(&h.value_size), 8);
  in.read(reinterpret_cast<char*>(&units), 8);
  if (!in || std::memcmp(magic, kRunMagic, 8) != 0) throw damaged("no header");
  if (units > (1ull << 32)) throw damaged("unit count");
  h.units.resize(units);
  in.read(reinterpret_cast<char*>(h.units.data()),
          static_cast<std::streamsize>(units * sizeof(WorkUnit)));
  in.read(reinterpret_cast<char*>(&h.records), 8);
  if (!in) throw damaged("truncated header");
  h.records_at = static_cast<std::uint64_t>(in.tellg());
  in.seekg(static_cast<std::streamoff>(h.records_at + h.records));
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&h.checksum), 8);
  if (!in || std::memcmp(magic, kEndMagic, 8) != 0) throw damaged("truncated");
  in.peek();
  if (!in.eof()) throw damaged("bytes after its end");
  return h;
}

// Folds a run file's records into `job`, 1 MiB at a time, after a first pass
// that checks them against the file's checksum (so a damaged file is refused
// before anything of it is used).
void restore_run_file(const std::string& path, JobRuntime& job) {
  const RunHeader h = read_run_header(path);
  constexpr std::size_t kPiece = 1 << 20;
  const auto each_piece = [&](auto&& f) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(h.records_at));
    std::vector<char> piece;
    for (std::uint64_t left = h.records; left > 0;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kPiece));
      piece.resize(n);
      in.read(piece.data(), static_cast<std::streamsize>(n));
      if (!in) throw RunError(errno_message("--checkpoint: cannot read", path, errno));
      f(piece.data(), n);
      left -= n;
    }
  };
  Fingerprint sum;
  sum.add(h.units.data(), h.units.size() * sizeof(WorkUnit));
  each_piece([&](const char* data, std::size_t n) { sum.add(data, n); });
  if (sum.h != h.checksum) {
    throw UsageError(
        fmt::format("--checkpoint: run file {} is damaged (checksum); remove the "
                    "checkpoint, or run with --restart=never",
                    quote_path(path)));
  }
  // Whole records go to the job; a record cut by a piece's end waits for the next.
  const std::size_t overhead = sizeof(std::uint32_t) + job.value_size();
  std::vector<char> carry;
  each_piece([&](const char* data, std::size_t n) {
    carry.insert(carry.end(), data, data + n);
    std::size_t whole = 0;
    while (carry.size() - whole >= overhead) {
      std::uint32_t length;
      std::memcpy(&length, carry.data() + whole, sizeof length);
      if (carry.size() - whole - overhead < length) break;
      whole += overhead + length;
    }
    job.restore(carry.data(), whole);
    carry.erase(carry.begin(), carry.begin() + static_cast<std::ptrdiff_t>(whole));
  });
  if (!carry.empty()) job.restore(carry.data(), carry.size());  // throws: not whole records
}

}  // namespace

CheckpointState open_checkpoint(const EngineOptions& options, const JobRuntime& job, Plan& plan) {
  CheckpointState state;
  const std::string& dir = options.checkpoint_dir;
  if (!job.supports_checkpoint()) {
    throw UsageError(
        fmt::format("--checkpoint: the {} job does not support checkpoints", job.name()));
  }
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    throw UsageError(errno_message("--checkpoint: cannot create", dir, errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw UsageError(fmt::format("--checkpoint: {} is not a directory", quote_path(dir)));
  }
  state.fingerprint = fingerprint_of(options, job, plan);
  const auto manifest = read_manifest(dir);
  if (options.restart == EngineOptions::Restart::kNever || !manifest) {
    if (options.restart == EngineOptions::Restart::kRequire) {
      throw UsageError(fmt::format("--restart=require: no checkpoint in {}", quote_path(dir)));
    }
    clear_checkpoint(dir);
    write_manifest(dir, state.fingerprint, options);
    return state;
  }
  if (manifest->first != state.fingerprint) {
    throw UsageError(fmt::format(
        "--checkpoint: {} holds the checkpoint of another run (a different command line, "
        "input files or gridmr version: {}); use another folder, or --restart=never to start "
        "over",
        quote_path(dir), manifest->second));
  }
  // Restart: every whole run file's units are done.
  std::set<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>> done;
  for (const std::string& name : entries_of(dir)) {
    const std::string path = path_in(dir, name);
    if (name.starts_with("run-") && name.find(".partial") != std::string::npos) {
      ::unlink(path.c_str());  // a save that a killed run did not finish
      continue;
    }
    if (!name.starts_with("run-") || !ends_with(name, ".run")) continue;
    const RunHeader h = read_run_header(path);
    if (h.fingerprint != state.fingerprint || h.value_size != job.value_size()) {
      throw UsageError(
          fmt::format("--checkpoint: run file {} belongs to another run; remove "
                      "the checkpoint, or run with --restart=never",
                      quote_path(path)));
    }
    for (const WorkUnit& u : h.units) done.insert({u.source, u.begin, u.end});
    state.files.push_back(path);
  }
  std::vector<WorkUnit> left;
  std::uint64_t weight = 0;
  for (const WorkUnit& u : plan.units) {
    if (done.count({u.source, u.begin, u.end}) == 0) {
      left.push_back(u);
      weight += u.weight();
    }
  }
  plan.units = std::move(left);
  plan.total_units = plan.units.size();
  plan.total_bytes = weight;
  return state;
}

void restore_checkpoint(const Cluster& cluster, JobRuntime& job, CheckpointState& state) {
  boost::mpi::communicator world(cluster.comm(), boost::mpi::comm_attach);
  boost::mpi::broadcast(world, state.fingerprint, 0);
  boost::mpi::broadcast(world, state.files, 0);
  agree(cluster, [&] {
    for (std::size_t i = static_cast<std::size_t>(cluster.rank()); i < state.files.size();
         i += static_cast<std::size_t>(cluster.size())) {
      restore_run_file(state.files[i], job);
    }
  });
}

void remove_checkpoint(const EngineOptions& options) {
  if (options.checkpoint_dir.empty() || options.keep_checkpoint) return;
  clear_checkpoint(options.checkpoint_dir);
  ::rmdir(options.checkpoint_dir.c_str());  // only if empty: it may hold other files
}

CheckpointingUnits::CheckpointingUnits(UnitSource& inner, const EngineOptions& options,
                                       const JobRuntime& job, Spill* spill,
                                       std::uint64_t fingerprint, int rank,
                                       int threads)
    : inner_(inner),
      spill_(spill),
      dir_(options.checkpoint_dir),
      fingerprint_(fingerprint),
      value_size_(job.value_size()),
      rank_(rank),
      interval_(options.checkpoint_interval),
      done_(threads),
      saves_(threads, 0),
      next_save_(std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval_)) {}

void CheckpointingUnits::done(const WorkUnit& unit) {
  inner_.done(unit);
  done_[omp_get_thread_num()].push_back(unit);
  // GRIDMR_DEBUG_UNIT_DELAY_MS=N: each unit takes N ms longer, so that tests
  // can interrupt a run between checkpoints.
  static const int delay = [] {
    const char* ms = std::getenv("GRIDMR_DEBUG_UNIT_DELAY_MS");
    return ms != nullptr ? std::atoi(ms) : 0;
  }();
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
}

bool CheckpointingUnits::checkpoint_due() {
  if (done_[omp_get_thread_num()].empty()) return false;
  const std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_save_) return false;
  // This thread saves now; the rank's next save comes one interval later.
  next_save_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval_);
  return true;
}

void CheckpointingUnits::save_checkpoint(const TableView& table) {
  const int thread = omp_get_thread_num();
  std::uint64_t random = 0;
  if (::getrandom(&random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    random = static_cast<std::uint64_t>(::getpid());
  }
  const std::string name =
      fmt::format("run-r{}-t{}-{}-{:016x}", rank_, thread, saves_[thread]++, random);
  const std::string partial = path_in(dir_, name + ".partial");
  const std::string whole = path_in(dir_, name + ".run");
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw RunError(errno_message("--checkpoint: cannot create", partial, errno));
  std::vector<char> buffer;
  const auto flush = [&](bool force) {
    if (!force && buffer.size() < (1u << 20)) return;
    if (!write_fully(fd, buffer.data(), buffer.size())) {
      const int err = errno;
      ::close(fd);
      ::unlink(partial.c_str());
      throw RunError(errno_message("--checkpoint: cannot write", partial, err));
    }
    buffer.clear();
  };
  const auto put = [&](const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    buffer.insert(buffer.end(), p, p + n);
  };
  const std::vector<WorkUnit>& units = done_[thread];
  const std::uint64_t count = units.size();
  const std::uint64_t value_size = value_size_;
  put(kRunMagic, 8);
  put(&fingerprint_, 8);
  put(&value_size, 8);
  put(&count, 8);
  put(units.data(), units.size() * sizeof(WorkUnit));
  Fingerprint sum;
  sum.add(units.data(), units.size() * sizeof(WorkUnit));
  // The thread's output since its last save: its table, and the runs it
  // spilled meanwhile (which leave the spill: this file holds them now).
  const std::vector<std::shared_ptr<const Run>> spilled =
      spill_ != nullptr ? spill_->take_pending(thread) : std::vector<std::shared_ptr<const Run>>();
  std::uint64_t records = 0;
  table.for_each(
      [&](std::string_view key, const std::byte*) { records += record_size(key, value_size_); });
  for (const auto& run : spilled) records += run->bytes();
  put(&records, 8);
  const auto add = [&](std::string_view key, const std::byte* value) {
    const std::size_t at = buffer.size();
    append_record(buffer, key, value, value_size_);
    sum.add(buffer.data() + at, buffer.size() - at);
    flush(false);
  };
  table.for_each(add);
  for (const auto& run : spilled) {
    RunReader reader(run, 0, run->bytes(), value_size_, 1 << 20);
    std::string_view key;
    const std::byte* value;
    while (reader.next(key, value)) add(key, value);
  }
  put(kEndMagic, 8);
  put(&sum.h, 8);
  flush(true);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(partial.c_str());
    throw RunError(errno_message("--checkpoint: cannot write", partial, errno));
  }
  if (::rename(partial.c_str(), whole.c_str()) != 0) {
    ::unlink(partial.c_str());
    throw RunError(errno_message("--checkpoint: cannot rename", partial, errno));
  }
  done_[thread].clear();
  const std::lock_guard lock(mutex_);
  written_.push_back(whole);
}

void CheckpointingUnits::restore_written(JobRuntime& job) const {
  for (const std::string& path : written_) restore_run_file(path, job);
}

}  // namespace gridmr
