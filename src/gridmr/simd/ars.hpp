// ARS-7 (Salmon et al., SC'11, as in Random123's ars4x32 with its default 7 rounds):
// a counter-based generator built from AES rounds with a Weyl-sequence key schedule.
// It passes TestU01's BigCrush from 5 rounds on (the paper's Table 2); Random123
// uses 7 for a safety margin, as here. One AES round instruction per round makes
// it far cheaper than Philox on CPUs whose vector multiplies are slow (AVX2).
// Bit-identical to Random123's ars4x32_R(7, ...) (tests/unit/test_montecarlo.cpp).
// This portable form defines the stream; the SIMD kernel (gridmr/simd/) uses the
// CPU's AES instructions and is tested against it.
#pragma once

#include <array>
#include <cstdint>

namespace gridmr::ars {

using Block = std::array<std::uint32_t, 4>;  // 128 bits, word 0 lowest

inline constexpr int kRounds = 7;
// The round keys advance by these 64-bit Weyl increments (low half, high half).
inline constexpr std::uint64_t kWeylLow = 0x9E3779B97F4A7C15;   // golden ratio
inline constexpr std::uint64_t kWeylHigh = 0xBB67AE8584CAA73B;  // sqrt(3) - 1

namespace detail {

// AES's S-box, computed: the multiplicative inverse in GF(2^8), then the affine map.
struct SBox {
  std::uint8_t of[256];
};
constexpr std::uint8_t gf_multiply(std::uint8_t a, std::uint8_t b) {
  std::uint8_t product = 0;
  for (int bit = 0; bit < 8; ++bit) {
    if (b & 1) product ^= a;
    a = static_cast<std::uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1B : 0));
    b >>= 1;
  }
  return product;
}
constexpr SBox kSBox = [] {
  SBox box{};
  for (int x = 0; x < 256; ++x) {
    std::uint8_t inverse = 0;
    for (int y = 1; y < 256 && x != 0; ++y) {
      if (gf_multiply(static_cast<std::uint8_t>(x), static_cast<std::uint8_t>(y)) == 1) {
        inverse = static_cast<std::uint8_t>(y);
        break;
      }
    }
    std::uint8_t s = inverse;
    for (int shift = 1; shift <= 4; ++shift) {
      s ^= static_cast<std::uint8_t>((inverse << shift) | (inverse >> (8 - shift)));
    }
    box.of[x] = static_cast<std::uint8_t>(s ^ 0x63);
  }
  return box;
}();

using State = std::array<std::uint8_t, 16>;  // byte 4c + r: row r of column c

// One AES encryption round, as the AESENC instruction does it (SubBytes,
// ShiftRows, MixColumns unless `last`, then the round key).
constexpr State aes_round(const State& in, const State& key, bool last) {
  State s{};
  for (int c = 0; c < 4; ++c) {
    for (int r = 0; r < 4; ++r) s[4 * c + r] = kSBox.of[in[4 * ((c + r) % 4) + r]];
  }
  if (!last) {
    for (int c = 0; c < 4; ++c) {
      const std::uint8_t a0 = s[4 * c], a1 = s[4 * c + 1], a2 = s[4 * c + 2], a3 = s[4 * c + 3];
      const auto twice = [](std::uint8_t a) { return gf_multiply(a, 2); };
      s[4 * c] = static_cast<std::uint8_t>(twice(a0) ^ twice(a1) ^ a1 ^ a2 ^ a3);
      s[4 * c + 1] = static_cast<std::uint8_t>(a0 ^ twice(a1) ^ twice(a2) ^ a2 ^ a3);
      s[4 * c + 2] = static_cast<std::uint8_t>(a0 ^ a1 ^ twice(a2) ^ twice(a3) ^ a3);
      s[4 * c + 3] = static_cast<std::uint8_t>(twice(a0) ^ a0 ^ a1 ^ a2 ^ twice(a3));
    }
  }
  for (int i = 0; i < 16; ++i) s[i] ^= key[i];
  return s;
}

constexpr State bytes_of(std::uint64_t low, std::uint64_t high) {
  State s{};
  for (int i = 0; i < 8; ++i) {
    s[i] = static_cast<std::uint8_t>(low >> (8 * i));
    s[8 + i] = static_cast<std::uint8_t>(high >> (8 * i));
  }
  return s;
}

}  // namespace detail

// One block: ARS-7 of counter `x` under the 128-bit key `k`.
constexpr Block ars4x32_7(const Block& x, const Block& k) {
  using detail::State;
  const auto wide = [](std::uint32_t low, std::uint32_t high) {
    return std::uint64_t{low} | std::uint64_t{high} << 32;
  };
  std::uint64_t key_low = wide(k[0], k[1]), key_high = wide(k[2], k[3]);
  State s = detail::bytes_of(wide(x[0], x[1]) ^ key_low, wide(x[2], x[3]) ^ key_high);
  for (int round = 1; round <= kRounds; ++round) {
    key_low += kWeylLow;
    key_high += kWeylHigh;
    s = detail::aes_round(s, detail::bytes_of(key_low, key_high), round == kRounds);
  }
  Block out{};
  for (int i = 0; i < 16; ++i) out[i / 4] |= std::uint32_t{s[i]} << (8 * (i % 4));
  return out;
}

}  // namespace gridmr::ars
