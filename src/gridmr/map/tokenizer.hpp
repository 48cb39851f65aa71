// The word rule (docs/records.md): runs of ASCII letters, digits and bytes >= 0x80,
// with ASCII letters folded to lower case.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

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
// `mask` holds (size + 63) / 64 words. This plain form defines the result; the
// reader runs the SIMD kernels of gridmr/simd/, which the tests hold to it.
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

// Lists where words start and end in `size` classified bytes (mask as set by
// fold_and_classify): the positions j where byte j's class differs from byte
// j-1's, in order, byte -1 counting as a word byte when `in_word`. Writes
// them to out[0..n) and returns n; out must have room for size + 64 entries
// (whole groups are written past n). This plain form defines the result (see
// gridmr/simd/ for the kernels the reader runs).
// Bit j of the result: byte 64k+j's class differs from the byte before it
// (`carry`: whether that byte, the last of block k-1, is a word byte; updated
// for the next block). Bits at or past `size` are cleared.
inline std::uint64_t edges_of_block(const std::uint64_t* mask, std::size_t k, std::size_t size,
                                    std::uint64_t& carry) {
  const std::uint64_t w = mask[k];
  std::uint64_t edges = w ^ ((w << 1) | carry);
  carry = w >> 63;
  if ((k + 1) * 64 > size) edges &= (std::uint64_t{1} << (size % 64)) - 1;
  return edges;
}

inline std::size_t list_word_edges_portable(const std::uint64_t* mask, std::size_t size,
                                            bool in_word, std::uint32_t* out) {
  std::size_t n = 0;
  std::uint64_t carry = in_word ? 1 : 0;
  const std::size_t blocks = (size + 63) / 64;
  for (std::size_t k = 0; k < blocks; ++k) {
    std::uint64_t edges = edges_of_block(mask, k, size, carry);
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

}  // namespace gridmr
