// A view of bytes that may be read past its end: see PaddedView.
#pragma once

#include <cstddef>
#include <string_view>

namespace gridmr {

// How many readable bytes follow a PaddedView's last byte, at least.
inline constexpr std::size_t kViewPadding = 16;

// A view whose buffer goes on for at least kViewPadding bytes after it, so
// that a reader of short keys may load two whole 8-byte words from its start
// and mask off what lies beyond (the text reader's words are such views).
struct PaddedView {
  std::string_view bytes;
  operator std::string_view() const { return bytes; }
};

}  // namespace gridmr
