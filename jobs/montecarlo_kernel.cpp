// The sampling loop of the Monte Carlo job: points in the unit square, hits in the quarter disc.
#include "gridmr/simd/ars.hpp"
#include "gridmr/simd/kernels.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/philox.hpp"

namespace jobs {

namespace {

using gridmr::philox::Counter;

// Sample s is the point (u, v) / 2^32, where (u, v) are words 0-1 (s even) or
// 2-3 (s odd) of block s/2 of the generator: ARS-7 of counter
// (s/2 low, s/2 high, kStream, 0) under the key (seed low, seed high, 0, 0), or
// Philox4x32-10 of the same counter under the key (seed low, seed high). It hits
// when x^2 + y^2 < 1, that is when u^2 + v^2 < 2^64: exact integer arithmetic,
// "the 64-bit sum does not wrap".
constexpr std::uint32_t kStream = 0x70690000;  // "pi": keeps this job's stream apart

Counter block(MonteCarlo::Generator g, std::uint64_t index, std::uint64_t seed) {
  const Counter counter = {static_cast<std::uint32_t>(index),
                           static_cast<std::uint32_t>(index >> 32), kStream, 0};
  const auto seed_low = static_cast<std::uint32_t>(seed),
             seed_high = static_cast<std::uint32_t>(seed >> 32);
  if (g == MonteCarlo::Generator::kPhilox) {
    return gridmr::philox::philox4x32_10(counter, seed_low, seed_high);
  }
  return gridmr::ars::ars4x32_7(counter, {seed_low, seed_high, 0, 0});
}

std::uint64_t hit(std::uint32_t u, std::uint32_t v) {
  const std::uint64_t uu = std::uint64_t{u} * u;
  return uu + std::uint64_t{v} * v >= uu;
}

// Hits of the whole blocks [first, last): both samples of each.
std::uint64_t whole_blocks_portable(MonteCarlo::Generator g, std::uint64_t first,
                                    std::uint64_t last, std::uint64_t seed) {
  std::uint64_t hits = 0;
  for (std::uint64_t b = first; b < last; ++b) {
    const Counter w = block(g, b, seed);
    hits += hit(w[0], w[1]) + hit(w[2], w[3]);
  }
  return hits;
}

std::uint64_t whole_blocks_simd(MonteCarlo::Generator g, std::uint64_t first, std::uint64_t last,
                                std::uint64_t seed) {
  return g == MonteCarlo::Generator::kPhilox ? gridmr::simd::philox_block_hits(first, last, seed)
                                             : gridmr::simd::ars_block_hits(first, last, seed);
}

template <class WholeBlocks>
std::uint64_t count(MonteCarlo::Generator g, std::uint64_t seed, std::uint64_t begin,
                    std::uint64_t end, WholeBlocks whole) {
  std::uint64_t hits = 0;
  if (begin % 2 == 1) {  // the odd half of the block that begin shares with begin-1
    const Counter w = block(g, begin / 2, seed);
    hits += hit(w[2], w[3]);
  }
  if (end % 2 == 1) {  // the even half of the block that end-1 shares with end
    const Counter w = block(g, end / 2, seed);
    hits += hit(w[0], w[1]);
  }
  return hits + whole(g, (begin + 1) / 2, end / 2, seed);
}

}  // namespace

std::uint64_t MonteCarlo::count_hits_portable(Generator g, std::uint64_t seed, std::uint64_t begin,
                                              std::uint64_t end) {
  return count(g, seed, begin, end, whole_blocks_portable);
}

std::uint64_t MonteCarlo::count_hits(Generator g, std::uint64_t seed, std::uint64_t begin,
                                     std::uint64_t end) {
  return count(g, seed, begin, end, whole_blocks_simd);
}

}  // namespace jobs
