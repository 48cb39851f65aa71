// Parsing and printing of the sizes and counts users type.
#include "gridmr/core/sizes.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "gridmr/errors.hpp"

namespace gridmr {

std::string quote_path(std::string_view path) {
  std::string out = "'";
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string errno_message(const std::string& what, const std::string& path, int err) {
  return fmt::format("{} {}: {}", what, quote_path(path), std::strerror(err));
}

namespace {

[[noreturn]] void bad_value(std::string_view option, std::string_view text, std::string_view why) {
  throw UsageError(fmt::format("{} '{}': {}", option, text, why));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::uint64_t parse_size(std::string_view text, std::string_view option) {
  const std::string_view s = trim(text);
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec == std::errc::result_out_of_range) bad_value(option, text, "too large");
  if (ec != std::errc() || end == s.data()) {
    bad_value(option, text, "expected a size such as 4096, 64KiB, 16MiB or 2GiB");
  }
  const std::string_view unit = trim(std::string_view(end, s.data() + s.size() - end));
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 10> kUnits{{
      {"", 1},
      {"B", 1},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
      {"KB", 1000ull},
      {"MB", 1000ull * 1000},
      {"GB", 1000ull * 1000 * 1000},
      {"TB", 1000ull * 1000 * 1000 * 1000},
  }};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    if (number == 0) bad_value(option, text, "must be greater than zero");
    if (number > std::numeric_limits<std::uint64_t>::max() / factor) {
      bad_value(option, text, "too large");
    }
    return number * factor;
  }
  bad_value(option, text, "unknown unit (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)");
}

std::uint64_t parse_count(std::string_view text, std::string_view option, bool allow_zero) {
  const std::string_view s = trim(text);
  if (!s.empty() && s.front() == '-') bad_value(option, text, "must be a positive whole number");
  std::uint64_t whole = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), whole);
  if (ec == std::errc() && end == s.data() + s.size()) {
    if (whole == 0 && !allow_zero) bad_value(option, text, "must be greater than zero");
    return whole;
  }
  if (ec == std::errc::result_out_of_range) bad_value(option, text, "too large (at most 2^64-1)");
  // Scientific notation ("1e10", "2.5e9"): go through long double, which holds
  // every integer below 2^64 exactly, and insist the value is whole.
  long double value = 0;
  const auto [fend, fec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (fec != std::errc() || fend != s.data() + s.size() || !std::isfinite(value)) {
    bad_value(option, text, "expected a whole number such as 1000000 or 1e10");
  }
  if (value < 0 || (value == 0 && !allow_zero))
    bad_value(option, text, "must be greater than zero");
  if (value >= 18446744073709551616.0L) bad_value(option, text, "too large (at most 2^64-1)");
  if (std::floor(value) != value) bad_value(option, text, "must be a whole number");
  return static_cast<std::uint64_t>(value);
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kNames{"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t i = 0;
  while (value >= 1024.0 && i + 1 < kNames.size()) {
    value /= 1024.0;
    ++i;
  }
  if (i == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.{}f} {}", value, value < 10 ? 2 : (value < 100 ? 1 : 0), kNames[i]);
}

}  // namespace gridmr
