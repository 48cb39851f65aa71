// Progress of the map phase on rank 0.
#include "gridmr/runtime/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace gridmr {

namespace {
constexpr auto kQuietStart = std::chrono::seconds(1);
constexpr auto kTerminalInterval = std::chrono::milliseconds(250);
constexpr auto kPlainInterval = std::chrono::seconds(5);
}  // namespace

Progress::Progress(std::uint64_t total_units, std::uint64_t total_weight, std::string weight_unit,
                   std::optional<bool> redraw)
    : total_units_(total_units), total_weight_(total_weight), unit_(std::move(weight_unit)) {
  terminal_ = redraw.value_or(::isatty(STDERR_FILENO) != 0);
}

Progress::~Progress() = default;

std::string Progress::duration(double seconds) {
  const auto s = static_cast<std::uint64_t>(std::max(0.0, seconds) + 0.5);
  if (s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

std::string Progress::rate(double per_second, const std::string& unit) {
  if (unit == "bytes") return fmt::format("{:.0f} MB/s", per_second / 1e6);
  if (per_second >= 1e9) return fmt::format("{:.2f} G {}/s", per_second / 1e9, unit);
  return fmt::format("{:.0f} M {}/s", per_second / 1e6, unit);
}

void Progress::update(std::uint64_t units, std::uint64_t weight) {
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < kQuietStart) return;
  if (now - last_ < (terminal_ ? kTerminalInterval : kPlainInterval) && shown_) return;
  last_ = now;
  shown_ = true;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double per_second = static_cast<double>(weight) / seconds;
  const double fraction =
      total_weight_ > 0 ? static_cast<double>(weight) / static_cast<double>(total_weight_) : 1.0;
  std::string eta = "--";
  if (per_second > 0 && weight <= total_weight_) {
    eta = duration(static_cast<double>(total_weight_ - weight) / per_second);
  }
  const std::string line =
      fmt::format("gridmr: map {}/{} units ({:.0f}%), {}, {} elapsed, ETA {}", units, total_units_,
                  100 * std::min(1.0, fraction), rate(per_second, unit_), duration(seconds), eta);
  if (terminal_) {
    fmt::print(out_, "\r{}\x1b[K", line);
  } else {
    fmt::print(out_, "{}\n", line);
  }
  std::fflush(out_);
}

void Progress::finish() {
  if (terminal_ && shown_) {
    fmt::print(out_, "\r\x1b[K");
    std::fflush(out_);
  }
}

}  // namespace gridmr
