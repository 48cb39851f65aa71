// Choosing the build of a program that suits the CPU: see variant.hpp.
#include "gridmr/variant.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gridmr/core/program_path.hpp"

namespace gridmr {

namespace {

// The x86-64-v3 level: what gcc's -march=x86-64-v3 may use.
bool cpu_has_x86_64_v3() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("movbe") && __builtin_cpu_supports("popcnt") &&
         __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

// GRIDMR_SIMD below AVX2 stands for an older CPU: the baseline build then runs too.
bool simd_forced_below_avx2() {
  const char* forced = std::getenv("GRIDMR_SIMD");
  if (forced == nullptr) return false;
  for (const char* name : {"sse4", "ssse3", "scalar", "emu128"}) {
    if (std::strcmp(forced, name) == 0) return true;
  }
  return false;
}

// The file `name` in this program's folder ("" if /proc/self/exe cannot be read).
std::string beside_this_program(const char* name) {
  const std::string folder = this_program_folder();
  return folder.empty() ? "" : folder + "/" + name;
}

constexpr const char* kHugePages = "glibc.malloc.hugetlb";
constexpr const char* kSavedTunables = "GRIDMR_SAVED_GLIBC_TUNABLES";

// Before the exec: glibc.malloc.hugetlb=1 in GLIBC_TUNABLES (read by glibc
// when the build starts) makes malloc ask for transparent huge pages on its
// large blocks, which Debian's THP mode (madvise) gives only on request. A
// job's buffers (the shuffle's, the sort's, the output's) otherwise fault in
// 4 KiB at a time, and on a VM a fault costs microseconds: a word count of
// 4M distinct words at 2 ranks took 3.1-3.9 s without, 1.7-2.3 s with (Zen 5
// PVM guest; peak RSS the same). The user's own GLIBC_TUNABLES is kept in
// kSavedTunables, for the build to restore before it starts any program; one
// that names the tunable already (=0 turns it off) is left as it is, and
// GRIDMR_HUGE_PAGES=off leaves GLIBC_TUNABLES alone.
void ask_malloc_for_huge_pages() {
  const char* current = std::getenv("GLIBC_TUNABLES");
  const char* wanted = std::getenv("GRIDMR_HUGE_PAGES");
  if (wanted != nullptr && std::strcmp(wanted, "off") == 0) return;
  if (std::getenv(kSavedTunables) != nullptr) return;
  if (current != nullptr && std::strstr(current, kHugePages) != nullptr) return;
  const std::string saved = current == nullptr ? "-" : std::string("=") + current;
  std::string tunables = current == nullptr || *current == '\0' ? "" : std::string(current) + ":";
  tunables += kHugePages;
  tunables += "=1";
  ::setenv(kSavedTunables, saved.c_str(), 1);
  ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
}

}  // namespace

void restore_environment_after_launch() {
  const char* saved = std::getenv(kSavedTunables);
  if (saved == nullptr) return;
  if (saved[0] == '=') {
    ::setenv("GLIBC_TUNABLES", saved + 1, 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
  ::unsetenv(kSavedTunables);
}

void run_build_for_this_cpu(char** argv, const char* variant) {
  const char* off = std::getenv("GRIDMR_VARIANT");
  if ((off != nullptr && std::strcmp(off, "off") == 0) || !cpu_has_x86_64_v3() ||
      simd_forced_below_avx2()) {
    return;
  }
  const std::string path = beside_this_program(variant);
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) return;
  ::execv(path.c_str(), argv);  // returns only on failure: then this build runs
}

int launch_build_for_this_cpu(char** argv, const char* variant, const char* baseline) {
  ask_malloc_for_huge_pages();
  run_build_for_this_cpu(argv, variant);
  const std::string path = beside_this_program(baseline);
  if (!path.empty()) ::execv(path.c_str(), argv);
  const int error = errno;
  std::fprintf(stderr,
               "gridmr: error: cannot run '%s' (this program's build for this CPU, which belongs "
               "in the launcher's folder): %s\n",
               path.empty() ? baseline : path.c_str(), std::strerror(error));
  return 1;
}

}  // namespace gridmr
