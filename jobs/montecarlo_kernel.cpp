// The sampling loop of the Monte Carlo job: points in the unit square, hits in the quarter disc.
#include "gridmr/simd/kernels.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/philox.hpp"

namespace jobs {

namespace {

using gridmr::philox::Counter;

// Sample s is the point (u, v) / 2^32, where (u, v) are words 0-1 (s even) or
// 2-3 (s odd) of Philox4x32-10 of counter (s/2 low, s/2 high, kStream, 0) under
// the key (seed low, seed high). It hits when x^2 + y^2 < 1, that is when
// u^2 + v^2 < 2^64: exact integer arithmetic, "the 64-bit sum does not wrap".
constexpr std::uint32_t kStream = 0x70690000;  // "pi": keeps this job's stream apart

Counter block(std::uint64_t index, std::uint64_t seed) {
  return gridmr::philox::philox4x32_10(
      {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32), kStream, 0},
      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

std::uint64_t hit(std::uint32_t u, std::uint32_t v) {
  const std::uint64_t uu = std::uint64_t{u} * u;
  return uu + std::uint64_t{v} * v >= uu;
}

// Hits of the whole blocks [first, last): both samples of each.
std::uint64_t whole_blocks_portable(std::uint64_t first, std::uint64_t last, std::uint64_t seed) {
  std::uint64_t hits = 0;
  for (std::uint64_t b = first; b < last; ++b) {
    const Counter w = block(b, seed);
    hits += hit(w[0], w[1]) + hit(w[2], w[3]);
  }
  return hits;
}

template <class WholeBlocks>
std::uint64_t count(std::uint64_t seed, std::uint64_t begin, std::uint64_t end, WholeBlocks whole) {
  std::uint64_t hits = 0;
  if (begin % 2 == 1) {  // the odd half of the block that begin shares with begin-1
    const Counter w = block(begin / 2, seed);
    hits += hit(w[2], w[3]);
  }
  if (end % 2 == 1) {  // the even half of the block that end-1 shares with end
    const Counter w = block(end / 2, seed);
    hits += hit(w[0], w[1]);
  }
  return hits + whole((begin + 1) / 2, end / 2, seed);
}

}  // namespace

std::uint64_t MonteCarlo::count_hits_portable(std::uint64_t seed, std::uint64_t begin,
                                              std::uint64_t end) {
  return count(seed, begin, end, whole_blocks_portable);
}

std::uint64_t MonteCarlo::count_hits(std::uint64_t seed, std::uint64_t begin, std::uint64_t end) {
  return count(seed, begin, end, gridmr::simd::philox_block_hits);
}

}  // namespace jobs
