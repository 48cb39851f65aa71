#!/usr/bin/env bash
# The README's first command: set up, build, count the words of inputs/ on 2 ranks, show the top.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
source scripts/env.sh
mpirun -q -np 2 --bind-to none build/gridmr wordcount --threads 1 --stats --force \
  -o build/sample.h5 inputs/
build/gridmr show build/sample.h5 --top 10
