// Philox4x32-10 (Salmon et al., SC'11, as in Random123): a counter-based generator,
// so any sample of a stream can be drawn directly from (key, counter) with no state.
// Bit-identical to Random123's r123::Philox4x32 (tests/unit/test_montecarlo.cpp).
// This scalar form defines the stream; the SIMD kernel (gridmr/simd/) draws many
// blocks at once and is tested against it.
#pragma once

#include <array>
#include <cstdint>

namespace gridmr::philox {

using Counter = std::array<std::uint32_t, 4>;

inline constexpr std::uint32_t kMultiplier0 = 0xD2511F53, kMultiplier1 = 0xCD9E8D57;
inline constexpr std::uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;  // key bumps

// One block: Philox4x32-10 of `x` under the key (k0, k1).
constexpr Counter philox4x32_10(Counter x, std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{kMultiplier0} * x[0];
    const std::uint64_t p1 = std::uint64_t{kMultiplier1} * x[2];
    x = {static_cast<std::uint32_t>(p1 >> 32) ^ x[1] ^ k0, static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ x[3] ^ k1, static_cast<std::uint32_t>(p0)};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return x;
}

}  // namespace gridmr::philox
