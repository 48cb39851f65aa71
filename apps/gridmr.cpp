// gridmr: the command-line program with the built-in jobs. On x86-64 it is built twice
// (CMakeLists.txt), gridmr-x86-64 and gridmr-x86-64-v3, and `gridmr` (apps/launcher.cpp)
// runs the one that suits the CPU.
#include "gridmr/gridmr.hpp"

#include "gridmr/streaming.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/wordcount.hpp"

int main(int argc, char** argv) {
  return gridmr::run_command_line(
      argc, argv,
      {gridmr::job_entry<jobs::WordCount>(), gridmr::job_entry<jobs::MonteCarlo>(),
       gridmr::stream_command(), gridmr::farm_command()});
}
