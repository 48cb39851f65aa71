#!/usr/bin/env bash
# Installs the Debian packages gridmr needs (only those missing), then configures and builds.
# Usage: scripts/setup.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

packages=(
  build-essential cmake pkg-config            # compiler and build
  libopenmpi-dev openmpi-bin                   # MPI
  libboost-mpi-dev                             # Boost.MPI (environment, communicators)
  libhdf5-openmpi-dev hdf5-tools               # parallel HDF5, h5dump
  libcli11-dev                                 # command line
  libfmt-dev                                   # formatting
  libhwy-dev                                   # Google Highway: SIMD kernels chosen at run time
  libisal-dev libzstd-dev libbz2-dev liblzma-dev  # reading .gz (ISA-L), .zst, .bz2 and .xz inputs
  zlib1g-dev                                   # HDF5's deflate; the tests' own .gz files
  doctest-dev python3-h5py python3-numpy       # tests
  librandom123-dev                             # tests: Random123's own Philox and ARS, the references for ours
  mount procps                                 # tests: a tmpfs for full-disk runs, pgrep for orphans
  zstd bzip2 xz-utils                          # tests, bench: the compressors' own programs
  iproute2                                     # tests: three hosts in network namespaces (multihost)
  libbenchmark-dev gnuplot-nox                 # benchmarks (bench/) and `gridmr plot`: micro-benchmarks, plots
)
sudo=""
[[ $EUID -ne 0 ]] && sudo="sudo"
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Open MPI looks up this host's name at every start; where neither it nor
# localhost resolves (a bare chroot or container without /etc/hosts), each
# lookup waits for DNS and every mpirun takes seconds longer. Name them as
# Debian's installer does.
for name in localhost "$(hostname)"; do
  if ! getent hosts "$name" >/dev/null; then
    echo "setup: adding $name to /etc/hosts (it did not resolve)"
    echo "127.0.0.1 $name" | $sudo tee -a /etc/hosts >/dev/null
  fi
done

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
