#!/usr/bin/env bash
# Checks that the Monte Carlo sampling loop in the build really uses 512-bit vector
# multiplies (vpmuludq on zmm registers) when the compiler targets AVX-512.
# Usage: tests/check_vectorized.sh LIBGRIDMR_JOBS.a CXX_FLAGS...
set -euo pipefail
lib=$1
shift
if ! c++ "$@" -dM -E -x c++ /dev/null | grep -q __AVX512F__; then
  echo "this build does not target AVX-512: the portable sampling loop is used"
  echo "1 passed, 0 failed"
  exit 0
fi
count=$(objdump -d --no-show-raw-insn "$lib" | grep -cE 'vpmuludq\s.*zmm' || true)
echo "vpmuludq on zmm registers in $(basename "$lib"): $count"
if ((count >= 20)); then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
