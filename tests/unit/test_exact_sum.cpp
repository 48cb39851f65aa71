// Exact sums of doubles: the 32-byte band sums that a float stream job's
// tables hold, added up by bands, against the wide ExactSum fed directly (which
// stream_test checks against Python's math.fsum), and against sums known exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gridmr/stream/exact_sum.hpp"

using gridmr::stream::BandSum;
using gridmr::stream::ExactSum;

namespace {

// Doubles of every exponent and sign, subnormals and zeros among them, and integers.
struct Addend {
  bool integer;
  double real;
  std::int64_t whole;
};

std::vector<Addend> wide_addends(std::uint64_t seed, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<Addend> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t kind = rng() % 8;
    if (kind == 0) {
      out.push_back({true, 0, static_cast<std::int64_t>(rng())});
    } else if (kind == 1) {
      out.push_back({false, std::ldexp(static_cast<double>(rng() >> 11), -1074 + static_cast<int>(rng() % 80)), 0});
    } else {
      // Random bits with an exponent below the largest (so that sums stay finite).
      std::uint64_t bits = rng();
      const std::uint64_t exponent = rng() % 2040;
      bits = (bits & 0x800fffffffffffffULL) | (exponent << 52);
      out.push_back({false, std::bit_cast<double>(bits), 0});
    }
  }
  out.push_back({false, 0.0, 0});
  out.push_back({false, -0.0, 0});
  out.push_back({true, 0, INT64_MIN});
  out.push_back({true, 0, INT64_MAX});
  out.push_back({false, std::numeric_limits<double>::denorm_min(), 0});
  out.push_back({false, -std::numeric_limits<double>::denorm_min(), 0});
  return out;
}

// The addends summed as a float stream job's tables do: one BandSum per band,
// each fed in `groups` interleaved partial sums that are then combined, then
// the bands added into an ExactSum.
ExactSum by_bands(const std::vector<Addend>& addends, int groups) {
  std::vector<std::array<BandSum, BandSum::kBands>> partial(groups);
  for (std::size_t i = 0; i < addends.size(); ++i) {
    int band = 0;
    const BandSum s = addends[i].integer ? BandSum::of(addends[i].whole, band)
                                         : BandSum::of(addends[i].real, band);
    partial[i % groups].at(static_cast<std::size_t>(band)).add(s);
  }
  ExactSum total;
  for (int band = BandSum::kBands - 1; band >= 0; --band) {
    BandSum sum;
    for (const auto& bands : partial) sum.add(bands[band]);
    total.add(band, sum);
  }
  return total;
}

ExactSum directly(const std::vector<Addend>& addends) {
  ExactSum total;
  for (const Addend& a : addends) {
    if (a.integer) {
      total.add(a.whole);
    } else {
      total.add(a.real);
    }
  }
  return total;
}

}  // namespace

TEST_CASE("band sums added by bands equal the wide exact sum, bit for bit") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    const std::vector<Addend> addends = wide_addends(seed, 2000);
    const ExactSum want = directly(addends);
    for (int groups : {1, 3, 7}) {
      CAPTURE(groups);
      CHECK(by_bands(addends, groups) == want);
    }
  }
}

TEST_CASE("band sums carry far beyond one addend, and cancel exactly") {
  // 2^20 copies of the largest mantissa of band 16 (the top of the doubles),
  // taken away again with the opposite sign: exactly the 1.5 left over.
  const double big = std::ldexp(0x1fffffffffffffULL, 1023 - 52 - 4);
  std::vector<Addend> addends;
  for (int i = 0; i < (1 << 20); ++i) addends.push_back({false, big, 0});
  for (int i = 0; i < (1 << 20); ++i) addends.push_back({false, -big, 0});
  addends.push_back({false, 1.5, 0});
  CHECK(by_bands(addends, 1).value() == 1.5);
  // 1e308 + 1 - 1e308 + 2^-1074: every band between kept, rounded once at the end.
  const std::vector<Addend> far = {{false, 1e308, 0},
                                   {true, 0, 1},
                                   {false, -1e308, 0},
                                   {false, std::numeric_limits<double>::denorm_min(), 0}};
  CHECK(by_bands(far, 1).value() == 1.0);
  CHECK(by_bands(far, 2) == directly(far));
  // Negative sums in low bands, sign-extended across the wide number.
  const std::vector<Addend> small = {{false, -std::ldexp(1.0, -1070), 0},
                                     {false, -std::ldexp(3.0, -1074), 0}};
  CHECK(by_bands(small, 1).value() == -std::ldexp(1.0, -1070) - std::ldexp(3.0, -1074));
}

TEST_CASE("integers and everyday decimals share one band") {
  int band = -1;
  (void)BandSum::of(std::int64_t{-7}, band);
  CHECK(band == BandSum::kIntegerBand);
  for (double x : {0.01, 0.5, 1.0, 3.99, 1e9, 12345.67, 2.5e-19, 7e19, -1e-6, 0.0, -0.0}) {
    CAPTURE(x);
    (void)BandSum::of(x, band);
    CHECK(band == BandSum::kIntegerBand);
  }
  (void)BandSum::of(1e-20, band);
  CHECK(band == BandSum::kIntegerBand - 1);
  (void)BandSum::of(1e21, band);
  CHECK(band == BandSum::kIntegerBand + 1);
  (void)BandSum::of(std::numeric_limits<double>::max(), band);
  CHECK(band == BandSum::kBands - 1);
  (void)BandSum::of(std::numeric_limits<double>::denorm_min(), band);
  CHECK(band == 0);
}

TEST_CASE("a band's sum rounds as the wide sum of the same addends") {
  // Addends of one band each (the key of one band, most keys), rounded from
  // the band's 256 bits directly: the same double as through the wide sum,
  // and for two addends as IEEE's own addition, which rounds once too (ties
  // among them), in every band, subnormal results included.
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20000; ++round) {
    const int band = static_cast<int>(rng() % BandSum::kBands);
    BandSum sum;
    ExactSum wide;
    double plain = 0;  // for one or two addends IEEE's own sum, rounded once too
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      // A double whose lowest mantissa bit is at a position of `band`.
      const int position = std::clamp(128 * band - 64 + static_cast<int>(rng() % 128), 0, 2045);
      const std::uint64_t mantissa = (rng() >> 11) | (position == 0 ? 0 : std::uint64_t{1} << 52);
      std::uint64_t bits = (rng() & 0x8000000000000000ULL) | (mantissa & 0xfffffffffffffULL);
      if (position > 0) bits |= static_cast<std::uint64_t>(position + 1) << 52;
      const double x = std::bit_cast<double>(bits);
      int got = -1;
      sum.add(BandSum::of(x, got));
      REQUIRE(got == band);
      wide.add(x);
      plain += x;
    }
    CAPTURE(band);
    CHECK(sum.value(band) == wide.value());
    if (n <= 2) CHECK(sum.value(band) == plain);
  }
}

TEST_CASE("a band's sum rounds ties and near-ties as IEEE addition does") {
  // 2^e plus half an ulp and a little: the bits that decide the rounding lie
  // far below the 64 that the conversion takes.
  int checked = 0;
  for (int e = -1020; e <= 1000; ++e) {
    const double y = std::ldexp(1.0, e);
    for (const double x : {std::ldexp(1.0, e - 53) + std::ldexp(1.0, e - 100),
                           std::ldexp(1.0, e - 53), std::ldexp(3.0, e - 53),
                           -std::ldexp(1.0, e - 54) - std::ldexp(1.0, e - 101)}) {
      int band_y = -1, band_x = -1;
      BandSum sum = BandSum::of(y, band_y);
      const BandSum other = BandSum::of(x, band_x);
      if (band_x != band_y) continue;
      sum.add(other);
      CAPTURE(e);
      CAPTURE(x);
      CHECK(sum.value(band_y) == y + x);
      ++checked;
    }
  }
  CHECK(checked > 3000);
}
