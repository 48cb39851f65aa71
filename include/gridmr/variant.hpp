// One program, two builds: the map loop (a job's map, emit and the combining
// table, all inline) gains 10-20% from AVX2 and BMI2, but a portable binary
// may not use them. So a program is built twice, for any x86-64 CPU and for
// x86-64-v3, and the first replaces itself with the second where the CPU can
// run it, before MPI starts. The SIMD kernels are chosen at run time either way.
#pragma once

namespace gridmr {

// Before anything else in main(): if the CPU has x86-64-v3 (AVX2, BMI2, FMA...)
// and the file `variant` next to this program is executable, exec it with the
// same arguments. Stays in this program when GRIDMR_VARIANT=off, or when
// GRIDMR_SIMD forces a target below AVX2 (which stands for an older CPU).
void run_build_for_this_cpu(char** argv, const char* variant);

// All of main() in a launcher: a small program that loads none of gridmr's
// libraries (MPI, HDF5, ...) and only replaces itself with the build that
// suits the CPU, `variant` as above or else `baseline`, both next to it. A
// baseline build that execs the variant first loads all of them: a 2-rank job
// took 12 ms longer than the variant run directly (25 ms more CPU); through a
// launcher, 2-3 ms. Returns only when `baseline` cannot be run, after one line
// on stderr: then main() returns 1.
int launch_build_for_this_cpu(char** argv, const char* variant, const char* baseline);
// The launcher also asks glibc's malloc for transparent huge pages on its
// large blocks (glibc.malloc.hugetlb=1 in GLIBC_TUNABLES, unless the user's
// GLIBC_TUNABLES names that tunable). The build calls this first thing, so
// that the programs it starts (a stream job's mapper, a farm's commands) get
// the user's GLIBC_TUNABLES back (run_command_line does).
void restore_environment_after_launch();

}  // namespace gridmr
