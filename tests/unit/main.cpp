// doctest entry point: MPI is initialised because the HDF5 and partitioner tests use it.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <mpi.h>

#include "gridmr/write/h5.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  gridmr::h5::silence_default_error_printing();
  const int failed = doctest::Context(argc, argv).run();
  MPI_Finalize();
  return failed;
}
