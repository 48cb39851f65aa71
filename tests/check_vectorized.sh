#!/usr/bin/env bash
# Checks that the library holds the SIMD kernels for AVX-512 and AVX2 whatever the build
# flags: 32x32->64-bit multiplies (vpmuludq, Philox) on zmm and on ymm registers, the
# three-way xor of AVX-512 (vpternlogq), and bytes widened to 32 bits (vpmovzxbd, word edges).
# Usage: tests/check_vectorized.sh LIBGRIDMR.so
set -euo pipefail
code=$(objdump -d --no-show-raw-insn "$1")
zmm=$(grep -cE 'vpmuludq\s.*zmm' <<<"$code" || true)
ymm=$(grep -cE 'vpmuludq\s.*ymm' <<<"$code" || true)
ternary=$(grep -cE 'vpternlogq\s.*zmm' <<<"$code" || true)
widen=$(grep -cE 'vpmovzxbd\s.*ymm' <<<"$code" || true)
echo "in $(basename "$1"): vpmuludq on zmm $zmm, on ymm $ymm; vpternlogq $ternary; vpmovzxbd $widen"
if ((zmm >= 20 && ymm >= 20 && ternary >= 10 && widen >= 1)); then
  echo "1 passed, 0 failed"
else
  echo "0 passed, 1 failed"
  exit 1
fi
