// The word rule of DESIGN.md: runs of ASCII letters, digits and bytes >= 0x80,
// with ASCII letters folded to lower case.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

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

}  // namespace gridmr
