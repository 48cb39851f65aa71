// Exact sums of doubles and 64-bit integers: a fixed-point number wide enough
// for every finite double (bits 2^-1074 .. 2^1023) with 64 bits of headroom, so
// that any grouping and any order of additions gives the same bits, and the
// result is rounded once, to nearest. This is what makes a streaming job's
// floating-point sums identical on any number of ranks and threads.
//
// ExactSum takes 272 bytes, too many for a key table's every key. A table
// holds BandSums instead: 32 bytes that are exact for the addends of one
// band of exponents (see BandSum), a key taking one entry per band its
// values fall in; the bands are added into an ExactSum at the end.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace gridmr::stream {

// magnitude[0, count) (a non-negative number) times 2^(base - 1074), rounded
// once to the nearest double (ties to even); +inf beyond the largest. `base`
// is 0 or at least 64, so that a result in the subnormal range is a number
// below 2^64, which one conversion rounds and the scaling leaves exact.
inline double round_magnitude(const std::uint64_t* magnitude, int count, int base) {
  int top = count - 1;
  while (top >= 0 && magnitude[top] == 0) --top;
  if (top < 0) return 0.0;
  const int high_bit = top * 64 + 63 - std::countl_zero(magnitude[top]);
  if (high_bit < 64) return std::ldexp(static_cast<double>(magnitude[0]), base - 1074);
  // The 64 bits from high_bit down, with any bit below folded into the
  // lowest one (sticky): converting those rounds once, correctly.
  const int low = high_bit - 63, i = low / 64, s = low % 64;
  std::uint64_t bits = magnitude[i];
  bool sticky = false;
  if (s != 0) {
    bits = (bits >> s) | (i + 1 < count ? magnitude[i + 1] << (64 - s) : 0);
    sticky = (magnitude[i] & ((std::uint64_t{1} << s) - 1)) != 0;
  }
  for (int k = 0; k < i && !sticky; ++k) sticky = magnitude[k] != 0;
  if (sticky) bits |= 1;
  return std::ldexp(static_cast<double>(bits), low + base - 1074);
}

// An exact sum of addends whose lowest mantissa bit lies in one band of 128
// bit positions (ExactSum's positions: bit p weighs 2^(p-1074)). Band b holds
// positions 128b-64 .. 128b+63, kept as a 256-bit two's complement number
// whose bit r weighs position 128b-64+r; an addend (53 bits of a double, or
// 64 of an integer) starts below bit 128 and ends below bit 180, which leaves
// 75 bits for carries: any 2^75 addends of a band sum exactly. Band 8 holds
// every integer and every double from about 2e-19 to 7e19, so most keys of
// most jobs have a single band; doubles span bands 0 .. 16.
class BandSum {
 public:
  static constexpr int kLimbs = 4;
  static constexpr int kBands = 17;
  static constexpr int kIntegerBand = 8;

  // The band of x, and x as that band's sum.
  static BandSum of(double x, int& band) {
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
    int position = 0;  // of the mantissa's lowest bit
    if (biased != 0) {
      mantissa |= std::uint64_t{1} << 52;
      position = biased - 1;
    }
    if (mantissa == 0) {  // +-0: the integers' band, adding nothing
      band = kIntegerBand;
      return {};
    }
    band = (position + 64) >> 7;
    return shifted(mantissa, position + 64 - 128 * band, (bits >> 63) != 0);
  }
  static BandSum of(std::int64_t x, int& band) {
    band = kIntegerBand;
    const bool negative = x < 0;
    const std::uint64_t magnitude =
        negative ? std::uint64_t{0} - static_cast<std::uint64_t>(x) : static_cast<std::uint64_t>(x);
    return shifted(magnitude, 1074 + 64 - 128 * kIntegerBand, negative);
  }

  void add(const BandSum& other) {
    unsigned char carry = 0;
    for (int i = 0; i < kLimbs; ++i) {
      carry = __builtin_add_overflow(limb_[i], carry, &limb_[i]);
      carry |= __builtin_add_overflow(limb_[i], other.limb_[i], &limb_[i]);
    }
  }

  std::uint64_t limb(int i) const { return limb_[i]; }
  bool negative() const { return (limb_[kLimbs - 1] >> 63) != 0; }

  // The sum of band `band`, rounded once to the nearest double.
  double value(int band) const {
    BandSum magnitude = *this;
    if (negative()) magnitude = BandSum{} - *this;
    // Band 0's lowest limb is always 0 (its addends start at its bit 64).
    const double result = band == 0 ? round_magnitude(magnitude.limb_ + 1, kLimbs - 1, 0)
                                    : round_magnitude(magnitude.limb_, kLimbs, 128 * band - 64);
    return negative() ? -result : result;
  }

  friend bool operator==(const BandSum&, const BandSum&) = default;

 private:
  friend BandSum operator-(const BandSum& a, const BandSum& b) {
    BandSum d;
    unsigned char borrow = 0;
    for (int i = 0; i < kLimbs; ++i) {
      borrow = __builtin_sub_overflow(a.limb_[i], borrow, &d.limb_[i]);
      borrow |= __builtin_sub_overflow(d.limb_[i], b.limb_[i], &d.limb_[i]);
    }
    return d;
  }
  // value << shift (shift < 128), negated if `negative`.
  static BandSum shifted(std::uint64_t value, int shift, bool negative) {
    BandSum s;
    const int i = shift >> 6, r = shift & 63;
    s.limb_[i] = value << r;
    s.limb_[i + 1] = r == 0 ? 0 : value >> (64 - r);
    if (negative) {
      unsigned char carry = 1;
      for (std::uint64_t& limb : s.limb_) {
        limb = ~limb;
        carry = __builtin_add_overflow(limb, carry, &limb);
      }
    }
    return s;
  }

  std::uint64_t limb_[kLimbs] = {};
};

class ExactSum {
 public:
  static constexpr int kLimbs = 34;           // 2176 bits, two's complement
  static constexpr int kFractionBits = 1074;  // bit 0 weighs 2^-1074

  // Adds a finite double exactly.
  void add(double x) {
    if (x == 0) return;
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
    const int biased = static_cast<int>((bits >> 52) & 0x7ff);
    std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
    int shift;  // bit position of the mantissa's lowest bit
    if (biased == 0) {
      shift = 0;  // subnormal: mantissa * 2^-1074
    } else {
      mantissa |= std::uint64_t{1} << 52;
      shift = biased - 1;  // mantissa * 2^(biased - 1075) = mantissa << (biased - 1)
    }
    add_shifted(mantissa, shift, (bits >> 63) != 0);
  }
  // Adds a 64-bit integer exactly.
  void add(std::int64_t x) {
    if (x == 0) return;
    const bool negative = x < 0;
    const std::uint64_t magnitude =
        negative ? std::uint64_t{0} - static_cast<std::uint64_t>(x) : static_cast<std::uint64_t>(x);
    add_shifted(magnitude, kFractionBits, negative);
  }
  // Adds the sum of band `band` (BandSum) exactly.
  void add(int band, const BandSum& sum) {
    // Band b's bit 0 is position 128b - 64: limb 2b - 1 here. Band 0's lowest
    // limb is below position 0 and always 0 (its addends start at its bit 64);
    // limbs past the top (band 16) carry only the sign, as the total fits.
    const std::uint64_t extension = sum.negative() ? ~std::uint64_t{0} : 0;
    unsigned char carry = 0;
    for (int i = std::max(0, 2 * band - 1); i < kLimbs; ++i) {
      const int j = i - (2 * band - 1);
      const std::uint64_t add = j < BandSum::kLimbs ? sum.limb(j) : extension;
      carry = __builtin_add_overflow(limb_[i], carry, &limb_[i]);
      carry |= __builtin_add_overflow(limb_[i], add, &limb_[i]);
    }
  }
  void add(const ExactSum& other) {
    unsigned char carry = 0;
    for (int i = 0; i < kLimbs; ++i) {
      const unsigned __int128 s = static_cast<unsigned __int128>(limb_[i]) + other.limb_[i] + carry;
      limb_[i] = static_cast<std::uint64_t>(s);
      carry = static_cast<unsigned char>(s >> 64);
    }
  }

  // The sum rounded to the nearest double (ties to even); +-inf when it is
  // beyond the largest double.
  double value() const {
    ExactSum magnitude = *this;
    const bool negative = (limb_[kLimbs - 1] >> 63) != 0;
    if (negative) magnitude.negate();
    const double result = round_magnitude(magnitude.limb_, kLimbs, 0);
    return negative ? -result : result;
  }

  friend bool operator==(const ExactSum&, const ExactSum&) = default;

 private:
  void negate() {
    unsigned char carry = 1;
    for (int i = 0; i < kLimbs; ++i) {
      const unsigned __int128 s = static_cast<unsigned __int128>(~limb_[i]) + carry;
      limb_[i] = static_cast<std::uint64_t>(s);
      carry = static_cast<unsigned char>(s >> 64);
    }
  }
  // Adds (or subtracts) value << shift.
  void add_shifted(std::uint64_t value, int shift, bool subtract) {
    const int i = shift / 64, s = shift % 64;
    const std::uint64_t low = value << s;
    const std::uint64_t high = s == 0 ? 0 : value >> (64 - s);
    if (!subtract) {
      unsigned char carry = 0;
      for (int k = i; k < kLimbs; ++k) {
        const std::uint64_t add = k == i ? low : k == i + 1 ? high : 0;
        if (k > i + 1 && carry == 0) break;
        const unsigned __int128 sum = static_cast<unsigned __int128>(limb_[k]) + add + carry;
        limb_[k] = static_cast<std::uint64_t>(sum);
        carry = static_cast<unsigned char>(sum >> 64);
      }
    } else {
      unsigned char borrow = 0;
      for (int k = i; k < kLimbs; ++k) {
        const std::uint64_t sub = k == i ? low : k == i + 1 ? high : 0;
        if (k > i + 1 && borrow == 0) break;
        const std::uint64_t before = limb_[k];
        const std::uint64_t after = before - sub - borrow;
        borrow = (before < sub || (before == sub && borrow)) ? 1 : 0;
        limb_[k] = after;
      }
    }
  }

  std::uint64_t limb_[kLimbs] = {};
};

}  // namespace gridmr::stream
