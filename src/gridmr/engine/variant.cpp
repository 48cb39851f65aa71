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

}  // namespace

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
