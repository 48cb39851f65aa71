#!/usr/bin/env bash
# The README's second command: set up, build, and run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
source scripts/env.sh
ctest --test-dir build --output-on-failure "$@"
