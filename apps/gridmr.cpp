// gridmr: the command-line program with the built-in jobs.
#include "gridmr/gridmr.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/wordcount.hpp"

int main(int argc, char** argv) { return gridmr::main<jobs::WordCount, jobs::MonteCarlo>(argc, argv); }
