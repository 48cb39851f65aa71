// Philox4x32-10 (Salmon et al., SC'11, as in Random123): a counter-based generator,
// so any sample of a stream can be drawn directly from (key, counter) with no state.
// Bit-identical to Random123's r123::Philox4x32 (tests/unit/test_montecarlo.cpp).
#pragma once

#include <array>
#include <cstdint>

#if defined(__AVX512F__)
// gcc 12 warns about its own _mm512_undefined_epi32 inside the intrinsics
// (gcc bug 105593), wherever they are inlined; the warning is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

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

#if defined(__AVX512F__)
// Eight blocks per register set: word w of block j sits in the low 32 bits of
// 64-bit lane j of x[w] (the high halves hold junk that no step reads, because
// _mm512_mul_epu32 multiplies low halves only). Written with intrinsics because
// gcc 12 turns the plain-loop form into the slow 64x64 multiply (vpmullq).
struct Lanes8 {
  __m512i x[4];
};

template <int N>
inline void philox4x32_10(Lanes8 (&blocks)[N], std::uint32_t k0, std::uint32_t k1) {
  const __m512i m0 = _mm512_set1_epi64(kMultiplier0), m1 = _mm512_set1_epi64(kMultiplier1);
  for (int round = 0; round < 10; ++round) {
    const __m512i key0 = _mm512_set1_epi64(k0), key1 = _mm512_set1_epi64(k1);
    for (int n = 0; n < N; ++n) {  // N independent chains hide the multiply latency
      __m512i* x = blocks[n].x;
      const __m512i p0 = _mm512_mul_epu32(x[0], m0), p1 = _mm512_mul_epu32(x[2], m1);
      x[0] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x[1], key0, 0x96);  // a^b^c
      x[2] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x[3], key1, 0x96);
      x[1] = p1;
      x[3] = p0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
}
#endif

}  // namespace gridmr::philox
