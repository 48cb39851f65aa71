// `gridmr`, the command users run: picks the build of the program that suits
// this CPU and replaces itself with it (gridmr/variant.hpp). The builds,
// `gridmr-x86-64` for any x86-64 CPU and `gridmr-x86-64-v3`, are apps/gridmr.cpp.
#include "gridmr/variant.hpp"

int main(int, char** argv) {
  return gridmr::launch_build_for_this_cpu(argv, "gridmr-x86-64-v3", "gridmr-x86-64");
}
