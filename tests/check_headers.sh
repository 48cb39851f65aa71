#!/usr/bin/env bash
# Checks that the installed headers read the same for every ISA: no test of an ISA macro
# (__AVX2__, __BMI2__, __SSE4_2__...), no intrinsics header, no Highway. They are compiled into
# libgridmr and into users' jobs, perhaps with other -march flags, and an inline function that
# compiles differently in each breaks the one-definition rule; ISA-specific code lives in
# src/gridmr/simd/, chosen at run time.
# Usage: tests/check_headers.sh INCLUDE_DIR
set -euo pipefail
pattern='__(AVX|SSE|BMI|FMA|F16C|LZCNT|POPCNT|VAES|PCLMUL|ARM_NEON|ARM_FEATURE)[A-Z0-9_]*__|[a-z0-9]*intrin\.h|hwy/|HWY_'
if found=$(grep -rnE "$pattern" "$1"); then
  echo "ISA-specific code in installed headers:"
  echo "$found"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$(find "$1" -name '*.hpp' | wc -l) headers, none ISA-specific"
echo "1 passed, 0 failed"
