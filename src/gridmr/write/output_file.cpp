// The output file's checks: before the run (the path) and before the write (the space).
#include "gridmr/write/output_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <mpi.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>

#include "gridmr/core/sizes.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/runtime/failure.hpp"
#include "gridmr/runtime/stats.hpp"

namespace gridmr {

void check_output_path(const EngineOptions& options) {
  namespace fs = std::filesystem;
  const std::string& out = options.output;
  if (out.empty()) throw UsageError("no output file given (-o OUT.h5)");
  struct stat st;
  // lstat: a symbolic link at OUT, even a dangling one, is an existing output.
  if (::lstat(out.c_str(), &st) == 0) {
    if (::stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      throw UsageError(fmt::format("output {} is a directory", quote_path(out)));
    if (!options.force) {
      throw UsageError(
          fmt::format("output {} exists (use --force to replace it)", quote_path(out)));
    }
    // --force replaces OUT: never when the job reads it (plan_files does the
    // same for the text jobs' inputs).
    for (const auto& [option, path] : options.job_input_files) {
      struct stat in;
      if (::stat(path.c_str(), &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
        throw UsageError(fmt::format("{} is both the input of {} and the output file (-o)",
                                     quote_path(path), option));
      }
    }
  }
  fs::path parent = fs::path(out).parent_path();
  if (parent.empty()) parent = ".";
  if (::stat(parent.c_str(), &st) != 0) {
    throw UsageError(errno_message("cannot write output: no folder", parent.string(), errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw UsageError(
        fmt::format("cannot write output: {} is not a folder", quote_path(parent.string())));
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UsageError(errno_message("cannot write output in", parent.string(), errno));
  }
  // The job writes OUT.partial-<16 hex digits> (and OUT.probe-<16 hex digits>)
  // next to OUT: their names must fit too, or the run would fail at its end.
  constexpr std::size_t kSuffix = sizeof(".partial-0123456789abcdef") - 1;
  const long name_max = ::pathconf(parent.c_str(), _PC_NAME_MAX);
  const std::string name = fs::path(out).filename().string();
  if (name_max > 0 && name.size() + kSuffix > static_cast<std::size_t>(name_max)) {
    throw UsageError(fmt::format("output file name is too long: {} bytes, at most {} here",
                                 name.size(), static_cast<std::size_t>(name_max) - kSuffix));
  }
  if (out.size() + kSuffix >= 4096) {
    throw UsageError(
        fmt::format("output path is too long: {} bytes, at most {}", out.size(), 4095 - kSuffix));
  }
}

void check_output_space(const Cluster& cluster, const EngineOptions& options, std::uint64_t bytes) {
  std::uint64_t needed = 0;
  MPI_Reduce(&bytes, &needed, 1, MPI_UINT64_T, MPI_SUM, 0, cluster.comm());
  needed += (256u << 10) + cluster.size() * sizeof(RankStats);
  agree(cluster, [&] {
    const char* skip = std::getenv("GRIDMR_SKIP_SPACE_CHECK");  // for tests of the write path
    if (!cluster.is_master() || (skip != nullptr && *skip != '\0')) return;
    std::filesystem::path folder = std::filesystem::path(options.output).parent_path();
    if (folder.empty()) folder = ".";
    struct statvfs fs {};
    if (::statvfs(folder.c_str(), &fs) != 0) return;  // cannot tell: let the write find out
    const std::uint64_t free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (free < needed) {
      throw RunError(
          fmt::format("not enough space for '{}': the result needs about {}, {} free in '{}'",
                      options.output, format_bytes(needed), format_bytes(free), folder.string()));
    }
  });
}

void check_output_shared(const Cluster& cluster, const EngineOptions& options) {
  if (cluster.size() == 1) return;
  char probe[4096] = {};
  agree(cluster, [&] {
    if (!cluster.is_master()) return;
    std::uint64_t bits = 0;
    if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
      bits = static_cast<std::uint64_t>(::getpid()) << 20 ^
             static_cast<std::uint64_t>(::time(nullptr));
    }
    const std::string name = fmt::format("{}.probe-{:016x}", options.output, bits);
    if (name.size() >= sizeof probe)
      throw UsageError("output path is too long: " + quote_path(options.output));
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw UsageError(errno_message("cannot create", name, errno));
    ::close(fd);
    std::memcpy(probe, name.c_str(), name.size() + 1);
  });
  MPI_Bcast(probe, sizeof probe, MPI_CHAR, 0, cluster.comm());
  std::exception_ptr error;
  try {
    agree(cluster, [&] {
      if (cluster.is_master()) return;
      // A file system shared over the network may take a moment to show a new file.
      for (int attempt = 0; attempt < 30; ++attempt) {
        struct stat st {};
        if (::stat(probe, &st) == 0 && S_ISREG(st.st_mode)) return;
        ::usleep(100'000);
      }
      throw UsageError(fmt::format(
          "the output folder of {} is not shared: rank {} on {} cannot see the file {} that rank 0 "
          "created there; -o must be on a file system that every node mounts",
          quote_path(options.output), cluster.rank(), cluster.host(), quote_path(probe)));
    });
  } catch (...) {
    error = std::current_exception();
  }
  if (cluster.is_master()) ::unlink(probe);
  if (error) std::rethrow_exception(error);
}

}  // namespace gridmr
