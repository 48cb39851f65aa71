// Planning: expanding inputs into files, and files into work units.
#include "gridmr/plan.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "gridmr/errors.hpp"
#include "gridmr/map/decompress.hpp"
#include "gridmr/map/stream_starts.hpp"

namespace gridmr {
namespace fs = std::filesystem;

namespace {

// Opens and closes the file, so that an unreadable input is a usage error now
// rather than a run failure later on some other rank.
// Files of /proc and /sys report a size of 0 (or of a page) whatever they hold,
// so a plan by size would miss their bytes: refuse them.
void check_sized(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return;
  if (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC) {
    throw UsageError("cannot read " + quote_path(path) +
                     ": files of /proc and /sys have no size to plan by (copy them first)");
  }
}

void check_readable(const std::string& path) {
  check_sized(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError(errno_message("cannot open", path, errno));
  ::close(fd);
}

struct FoundFile {
  std::string path;
  std::uint64_t size;
};

// A file or folder, if it exists: its device and inode.
struct Identity {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;

  explicit Identity(const std::string& path) {
    struct stat st;
    if (path.empty() || ::stat(path.c_str(), &st) != 0) return;
    exists = true;
    device = st.st_dev;
    inode = st.st_ino;
  }
  bool is(const struct stat& st) const {
    return exists && st.st_dev == device && st.st_ino == inode;
  }
  bool is(const std::string& path) const {
    struct stat st;
    return exists && ::stat(path.c_str(), &st) == 0 && is(st);
  }
};

// The job's own output file and checkpoint folder, when they exist already (a
// run with --force over an earlier result; a restart): never inputs. A walk
// leaves them out (written inside the input folder, they were counted as
// words, and a checkpoint's own files changed the input set it was checked
// against); named as an input, either is an error.
struct Written {
  Identity output, checkpoint;
  explicit Written(const JobWrites& writes)
      : output(writes.output), checkpoint(writes.checkpoint_dir) {}
};

void add_directory(const std::string& root, const Written& written, std::vector<FoundFile>& out) {
  std::vector<FoundFile> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) throw UsageError(errno_message("cannot read directory", root, ec.value()));
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec)
      throw UsageError(errno_message("cannot read directory", it->path().string(), ec.value()));
    std::error_code stat_ec;
    const auto status = it->status(stat_ec);  // follows symlinks to files
    if (!stat_ec && fs::is_directory(status) && written.checkpoint.is(it->path().string())) {
      it.disable_recursion_pending();
      continue;
    }
    if (stat_ec || !fs::is_regular_file(status)) continue;  // dangling links, sockets, fifos
    std::string path = it->path().string();
    if (written.output.is(path)) continue;
    check_readable(path);
    found.push_back({std::move(path), static_cast<std::uint64_t>(fs::file_size(it->path()))});
  }
  if (ec) throw UsageError(errno_message("cannot read directory", root, ec.value()));
  if (found.empty()) throw UsageError("no input files in directory " + quote_path(root));
  std::sort(found.begin(), found.end(),
            [](const FoundFile& a, const FoundFile& b) { return a.path < b.path; });
  out.insert(out.end(), std::make_move_iterator(found.begin()),
             std::make_move_iterator(found.end()));
}

}  // namespace

void cut_into_units(std::uint64_t source, std::uint64_t length, std::uint64_t unit_size,
                    std::vector<WorkUnit>& out) {
  for (std::uint64_t begin = 0; begin < length; begin += std::min(unit_size, length - begin)) {
    out.push_back({source, begin, begin + std::min(unit_size, length - begin)});
  }
}

namespace {

std::vector<FoundFile> find_files(const std::vector<std::string>& inputs, const JobWrites& writes) {
  if (inputs.empty()) throw UsageError("no input given");
  const Written written(writes);
  std::vector<FoundFile> files;
  for (const std::string& input : inputs) {
    struct stat st;
    if (::stat(input.c_str(), &st) != 0)
      throw UsageError(errno_message("cannot open", input, errno));
    if (written.output.is(st)) {
      throw UsageError(
          fmt::format("{} is both an input and the output file (-o)", quote_path(input)));
    }
    if (written.checkpoint.is(st)) {
      throw UsageError(fmt::format("{} is both an input and the checkpoint folder (--checkpoint)",
                                   quote_path(input)));
    }
    if (S_ISDIR(st.st_mode)) {
      add_directory(input, written, files);
    } else if (S_ISREG(st.st_mode)) {
      check_readable(input);
      files.push_back({input, static_cast<std::uint64_t>(st.st_size)});
    } else {
      throw UsageError("cannot read " + quote_path(input) + ": not a regular file or directory");
    }
  }
  return files;
}

}  // namespace

Plan plan_files(const std::vector<std::string>& inputs, std::uint64_t unit_size) {
  return plan_files(inputs, unit_size, JobWrites{});
}

Plan plan_files(const std::vector<std::string>& inputs, std::uint64_t unit_size,
                const JobWrites& writes) {
  std::vector<FoundFile> files = find_files(inputs, writes);
  // Refuse a plan whose units alone would not fit in rank 0's memory (24 bytes
  // each), before making any: --unit-size 7 on 5 GiB once grew rank 0 to 12.6 GB.
  constexpr std::uint64_t kMaxUnits = 100'000'000;
  // A compressed file is one unit, read front to back, unless its streams (or
  // blocks) can be found (BGZF, bzip2, multi-frame zstd, xz of several blocks):
  // then it is cut like a plain file, and each unit reads those that start in it.
  std::vector<std::uint64_t> unit_bytes(files.size(), unit_size);
  std::uint64_t units = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const FoundFile& file = files[i];
    const Compression format = compression_of(file.path);
    if (format != Compression::kNone && file.size > unit_size &&
        !splittable_compressed(file.path, format)) {
      unit_bytes[i] = file.size;
    }
    if (file.size > 0) units += (file.size + unit_bytes[i] - 1) / unit_bytes[i];
  }
  if (units > kMaxUnits) {
    throw UsageError(
        fmt::format("--unit-size {} cuts the input into {} units, more than {}; raise "
                    "--unit-size",
                    unit_size, units, kMaxUnits));
  }
  Plan plan;
  plan.sources.reserve(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].size > 0) cut_into_units(i, files[i].size, unit_bytes[i], plan.units);
    plan.total_bytes += files[i].size;
    plan.sources.push_back(std::move(files[i].path));
  }
  plan.total_units = plan.units.size();
  return plan;
}

Plan plan_whole_files(const std::vector<std::string>& inputs) {
  return plan_whole_files(inputs, JobWrites{});
}

Plan plan_whole_files(const std::vector<std::string>& inputs, const JobWrites& writes) {
  std::vector<FoundFile> files = find_files(inputs, writes);
  Plan plan;
  plan.sources.reserve(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    plan.units.push_back({i, 0, files[i].size});
    plan.total_bytes += files[i].size;
    plan.sources.push_back(std::move(files[i].path));
  }
  plan.total_units = plan.units.size();
  return plan;
}

Plan plan_range(std::uint64_t count, std::uint64_t per_unit, const char* what,
                const char* unit_option) {
  constexpr std::uint64_t kMaxUnits = 100'000'000;
  if (per_unit == 0) throw UsageError(fmt::format("{} must be at least 1", unit_option));
  if (count / per_unit >= kMaxUnits) {
    throw UsageError(fmt::format("{} {} in units of {} make more than {} units; raise {}", count,
                                 what, per_unit, kMaxUnits, unit_option));
  }
  Plan plan;
  cut_into_units(0, count, per_unit, plan.units);
  for (std::size_t i = 0; i < plan.units.size(); ++i) plan.units[i].source = i;
  plan.total_bytes = count;
  plan.weight_unit = what;
  plan.total_units = plan.units.size();
  return plan;
}

}  // namespace gridmr
