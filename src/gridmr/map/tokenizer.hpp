// The word rule (docs/records.md): runs of ASCII letters, digits and bytes >= 0x80,
// with ASCII letters folded to lower case.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

namespace gridmr {

inline constexpr std::array<bool, 256> kWordByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
  }
  return table;
}();

inline bool is_word_byte(char c) { return kWordByte[static_cast<unsigned char>(c)]; }

// Folds ASCII upper case to lower case in place; other bytes are left alone.
// Written branch-free so that the compiler vectorizes it.
inline void fold_ascii_case(char* data, std::size_t size) {
  auto* bytes = reinterpret_cast<std::uint8_t*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    const std::uint8_t c = bytes[i];
    bytes[i] = c + ((static_cast<std::uint8_t>(c - 'A') < 26) << 5);
  }
}

// Folds ASCII case in place and sets bit j of mask[j / 64] when data[j] is a
// word byte, for j < size (higher bits of the last mask word are cleared).
// `mask` holds (size + 63) / 64 words. The portable form defines the result;
// with AVX-512BW the same is done 64 bytes per step.
inline void fold_and_classify_portable(char* data, std::size_t size, std::uint64_t* mask) {
  for (std::size_t block = 0; block < size; block += 64) {
    const std::size_t n = size - block < 64 ? size - block : 64;
    fold_ascii_case(data + block, n);
    std::uint64_t bits = 0;
    for (std::size_t j = 0; j < n; ++j) {
      bits |= std::uint64_t{kWordByte[static_cast<unsigned char>(data[block + j])]} << j;
    }
    mask[block / 64] = bits;
  }
}

inline void fold_and_classify(char* data, std::size_t size, std::uint64_t* mask) {
#if defined(__AVX512BW__)
  const __m512i upper_a = _mm512_set1_epi8('A'), lower_a = _mm512_set1_epi8('a');
  const __m512i zero = _mm512_set1_epi8('0'), letters = _mm512_set1_epi8(26);
  const __m512i digits = _mm512_set1_epi8(10), case_bit = _mm512_set1_epi8(0x20);
  for (std::size_t block = 0; block < size; block += 64) {
    const __mmask64 live =
        size - block >= 64 ? ~__mmask64{0} : (__mmask64{1} << (size - block)) - 1;
    __m512i v = _mm512_maskz_loadu_epi8(live, data + block);
    const __mmask64 upper = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, upper_a), letters);
    v = _mm512_mask_add_epi8(v, upper, v, case_bit);
    _mm512_mask_storeu_epi8(data + block, live, v);
    const __mmask64 word = _mm512_movepi8_mask(v) |  // bytes >= 0x80
                           _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, zero), digits) |
                           _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, lower_a), letters);
    mask[block / 64] = word & live;
  }
#else
  fold_and_classify_portable(data, size, mask);
#endif
}

// Lists where words start and end in `size` classified bytes (mask as set by
// fold_and_classify): the positions j where byte j's class differs from byte
// j-1's, in order, byte -1 counting as a word byte when `in_word`. Writes
// them to out[0..n) and returns n; out must have room for size + 64 entries
// (whole groups are written past n). The portable form defines the result.
inline std::size_t list_word_edges_portable(const std::uint64_t* mask, std::size_t size,
                                            bool in_word, std::uint32_t* out) {
  std::size_t n = 0;
  std::uint64_t carry = in_word ? 1 : 0;
  const std::size_t blocks = (size + 63) / 64;
  for (std::size_t k = 0; k < blocks; ++k) {
    const std::uint64_t w = mask[k];
    std::uint64_t edges = w ^ ((w << 1) | carry);  // bit j: byte j differs from byte j-1
    carry = w >> 63;
    if (k + 1 == blocks && size % 64 != 0) edges &= (std::uint64_t{1} << (size % 64)) - 1;
    // Eight positions per step, written whether they exist or not: one loop
    // branch per eight edges instead of one per edge.
    const auto count = static_cast<std::size_t>(std::popcount(edges));
    const auto base = static_cast<std::uint32_t>(k * 64);
    for (std::size_t i = 0; i < count; i += 8) {
      for (std::size_t j = 0; j < 8; ++j) {
        out[n + i + j] = base + static_cast<std::uint32_t>(std::countr_zero(edges));
        edges &= edges - 1;
      }
    }
    n += count;
  }
  return n;
}

inline std::size_t list_word_edges(const std::uint64_t* mask, std::size_t size, bool in_word,
                                   std::uint32_t* out) {
#if defined(__AVX512VBMI2__) && defined(__AVX512BW__)
  // Per 64 bytes: compress the byte offsets 0-63 under the edge mask, then
  // widen them 16 at a time to 32 bits and add the block's base.
  alignas(64) static constexpr std::uint8_t kOffsets[64] = {
      0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
      22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
      44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
  const __m512i offsets = _mm512_load_si512(kOffsets);
  std::size_t n = 0;
  std::uint64_t carry = in_word ? 1 : 0;
  const std::size_t blocks = (size + 63) / 64;
  for (std::size_t k = 0; k < blocks; ++k) {
    const std::uint64_t w = mask[k];
    std::uint64_t edges = w ^ ((w << 1) | carry);
    carry = w >> 63;
    if (k + 1 == blocks && size % 64 != 0) edges &= (std::uint64_t{1} << (size % 64)) - 1;
    const __m512i packed = _mm512_maskz_compress_epi8(edges, offsets);
    const __m512i base = _mm512_set1_epi32(static_cast<int>(k * 64));
    const auto count = static_cast<std::size_t>(std::popcount(edges));
    std::uint32_t* at = out + n;
    // The maskz forms: gcc 12 warns about the plain ones' undefined inputs (bug 105593).
    const auto widen = [&](__m128i sixteen) {
      return _mm512_add_epi32(base, _mm512_maskz_cvtepu8_epi32(0xffff, sixteen));
    };
    _mm512_storeu_si512(at, widen(_mm512_maskz_extracti32x4_epi32(0xf, packed, 0)));
    _mm512_storeu_si512(at + 16, widen(_mm512_maskz_extracti32x4_epi32(0xf, packed, 1)));
    if (count > 32) {
      _mm512_storeu_si512(at + 32, widen(_mm512_maskz_extracti32x4_epi32(0xf, packed, 2)));
      _mm512_storeu_si512(at + 48, widen(_mm512_maskz_extracti32x4_epi32(0xf, packed, 3)));
    }
    n += count;
  }
  return n;
#else
  return list_word_edges_portable(mask, size, in_word, out);
#endif
}

}  // namespace gridmr
