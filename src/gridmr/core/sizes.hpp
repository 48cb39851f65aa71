// Parsing and printing of the sizes and counts users type: "16MiB", "1e10".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gridmr {

// Bytes from "4096", "64KiB", "16MiB", "2GiB", "1TiB" (binary) or "10MB" (decimal).
// Throws UsageError naming `option` on anything else, on zero, or on overflow.
std::uint64_t parse_size(std::string_view text, std::string_view option);

// A positive whole number from "1000000", "1e10" or "2.5e9". Throws UsageError
// naming `option` on zero (unless `allow_zero`), a negative or fractional value,
// or overflow.
std::uint64_t parse_count(std::string_view text, std::string_view option, bool allow_zero = false);

// "1.5 GiB", "312 KiB", "17 B": for tables and messages.
std::string format_bytes(std::uint64_t bytes);

}  // namespace gridmr
