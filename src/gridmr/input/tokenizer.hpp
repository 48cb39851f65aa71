// The word rule of DESIGN.md: runs of ASCII letters, digits and bytes >= 0x80,
// with ASCII letters folded to lower case.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

namespace gridmr {

inline constexpr std::array<bool, 256> kWordByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c >= 0x80;
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

}  // namespace gridmr
