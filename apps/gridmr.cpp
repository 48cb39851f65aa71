// gridmr: the command-line program with the built-in jobs. Built twice (CMakeLists.txt):
// `gridmr` for any x86-64 CPU, which hands over to `gridmr-x86-64-v3` where the CPU has it.
#include "gridmr/gridmr.hpp"

#include "gridmr/streaming.hpp"
#include "gridmr/variant.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/wordcount.hpp"

int main(int argc, char** argv) {
#ifndef GRIDMR_VARIANT_BUILD
  gridmr::run_build_for_this_cpu(argv, "gridmr-x86-64-v3");
#endif
  return gridmr::run_command_line(
      argc, argv,
      {gridmr::job_entry<jobs::WordCount>(), gridmr::job_entry<jobs::MonteCarlo>(),
       gridmr::stream_command(), gridmr::farm_command()});
}
