// The SIMD kernels, compiled once per Highway target (foreach_target.h
// re-includes this file), with the dispatch that picks one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "gridmr/simd/kernels.cpp"
#include "gridmr/simd/kernels.hpp"

#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <bit>
#include <cstdlib>
#include <cstring>

#include "gridmr/map/tokenizer.hpp"  // the portable forms the kernels must agree with
#include "gridmr/simd/ars.hpp"

HWY_BEFORE_NAMESPACE();
namespace gridmr::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---- the word rule ----------------------------------------------------------

void FoldAndClassify(char* data, std::size_t size, std::uint64_t* mask) {
#if HWY_TARGET == HWY_SCALAR  // one lane: the portable form is the kernel
  fold_and_classify_portable(data, size, mask);
#else
  const hn::ScalableTag<std::uint8_t> d;
  const std::size_t lanes = hn::Lanes(d);  // 16, 32 or 64: whole bytes of mask bits
  auto* bytes = reinterpret_cast<std::uint8_t*>(data);
  auto* bits = reinterpret_cast<std::uint8_t*>(mask);
  if (size == 0) return;
  mask[(size - 1) / 64] = 0;  // the tail below sets bits one by one
  const auto upper_a = hn::Set(d, 'A'), lower_a = hn::Set(d, 'a'), zero = hn::Set(d, '0');
  const auto letters = hn::Set(d, 26), digits = hn::Set(d, 10), high = hn::Set(d, 0x7f);
  const auto case_bit = hn::Set(d, 0x20);
  std::size_t i = 0;
  for (; i + lanes <= size; i += lanes) {
    auto v = hn::LoadU(d, bytes + i);
    v = hn::IfThenElse(hn::Sub(v, upper_a) < letters, hn::Or(v, case_bit), v);
    hn::StoreU(v, d, bytes + i);
    const auto word =
        hn::Or(hn::Or(v > high, hn::Sub(v, zero) < digits), hn::Sub(v, lower_a) < letters);
    hn::StoreMaskBits(d, word, bits + i / 8);
  }
  fold_ascii_case(data + i, size - i);  // the tail, shorter than a vector
  for (; i < size; ++i) mask[i / 64] |= std::uint64_t{is_word_byte(data[i])} << (i % 64);
#endif
}

// Per 64 bytes: the edge bits, turned into positions 8 bits at a time.
// kBitPositions[b]: the positions of the set bits of b, in order, then zeros.
struct BitPositions {
  std::uint8_t of[256][8];
  constexpr const std::uint8_t* operator[](std::size_t b) const { return of[b]; }
};
constexpr BitPositions kBitPositions = [] {
  BitPositions table{};
  for (int b = 0; b < 256; ++b) {
    int n = 0;
    for (int bit = 0; bit < 8; ++bit) {
      if (b & (1 << bit)) table.of[b][n++] = static_cast<std::uint8_t>(bit);
    }
  }
  return table;
}();

#if HWY_TARGET != HWY_SCALAR
// Appends base + j for each set bit j of `bits`, in order, to out[n..]; writes
// whole groups of 8 past the new n. Each byte of `bits` looks up the positions
// of its set bits (8 bytes, padded), which are widened to 32 bits, offset and
// stored whole; the output moves on by the byte's popcount. No branch per bit.
// One-thread word-count map of 256 MiB, best of 5 (this project's Xeon,
// 2026-11): AVX2 0.454 s with Highway's 8-lane compress table, 0.347 s with a
// tzcnt loop, 0.320 s so; AVX-512 0.323 s with vpcompressb (VBMI2), 0.306 s so.
HWY_INLINE void AppendBitPositions(std::uint64_t bits, std::uint32_t base, std::uint32_t* out,
                                   std::size_t& n) {
  const hn::CappedTag<std::uint32_t, 8> d32_8;  // 8 lanes from AVX2 on, 4 with SSE4
  const hn::Rebind<std::uint8_t, decltype(d32_8)> d8_8;
  const std::size_t lanes_of8 = hn::Lanes(d32_8);
  for (std::size_t byte = 0; byte < 8; ++byte) {
    const auto b = static_cast<std::uint8_t>(bits >> (8 * byte));
    const auto offset = hn::Set(d32_8, static_cast<std::uint32_t>(base + 8 * byte));
    for (std::size_t i = 0; i < 8; i += lanes_of8) {
      const auto positions = hn::PromoteTo(d32_8, hn::LoadU(d8_8, kBitPositions[b] + i));
      hn::StoreU(hn::Add(positions, offset), d32_8, out + n + i);
    }
    n += static_cast<std::size_t>(std::popcount(b));
  }
}
#endif

std::size_t ListWordEdges(const std::uint64_t* mask, std::size_t size, bool in_word,
                          std::uint32_t* out) {
#if HWY_TARGET == HWY_SCALAR  // one lane: the portable form is the kernel
  return list_word_edges_portable(mask, size, in_word, out);
#else
  std::size_t n = 0;
  std::uint64_t carry = in_word ? 1 : 0;
  const std::size_t blocks = (size + 63) / 64;
  for (std::size_t k = 0; k < blocks; ++k) {
    const std::uint64_t edges = edges_of_block(mask, k, size, carry);
    if (edges != 0) AppendBitPositions(edges, static_cast<std::uint32_t>(k * 64), out, n);
  }
  return n;
#endif
}

// ---- tabs and newlines (a streaming mapper's output) -----------------------

std::size_t ListTabsAndNewlines(const char* data, std::size_t size, std::uint32_t* out) {
  std::size_t n = 0, i = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<std::uint8_t> d;
  const std::size_t lanes = hn::Lanes(d);  // 16, 32 or 64: whole bytes of mask bits
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
  const auto tab = hn::Set(d, '\t'), newline = hn::Set(d, '\n');
  for (; i + 64 <= size; i += 64) {
    std::uint64_t bits = 0;
    auto* bits_bytes = reinterpret_cast<std::uint8_t*>(&bits);
    for (std::size_t j = 0; j < 64; j += lanes) {
      const auto v = hn::LoadU(d, bytes + i + j);
      hn::StoreMaskBits(d, hn::Or(hn::Eq(v, tab), hn::Eq(v, newline)), bits_bytes + j / 8);
    }
    if (bits != 0) AppendBitPositions(bits, static_cast<std::uint32_t>(i), out, n);
  }
#endif
  for (; i < size; ++i) {  // the tail, shorter than 64 bytes
    if (data[i] == '\t' || data[i] == '\n') out[n++] = static_cast<std::uint32_t>(i);
  }
  return n;
}

// ---- Philox4x32-10 and the hit test -----------------------------------------

constexpr std::uint32_t kMultiplier0 = 0xD2511F53, kMultiplier1 = 0xCD9E8D57;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
constexpr std::uint32_t kStream = 0x70690000;  // as jobs/montecarlo_kernel.cpp

// Word w of block j sits in the low 32 bits of 64-bit lane j of x[w]; the high
// halves hold junk that no step reads, as MulEven multiplies low halves only.
// kSets independent sets of blocks hide the multiply latency.
std::uint64_t PhiloxBlockHits(std::uint64_t first, std::uint64_t last, std::uint64_t seed) {
  const hn::ScalableTag<std::uint64_t> d;
  auto misses = hn::Zero(d);        // samples whose sum wrapped, per lane
  std::uint64_t wrapped_count = 0;  // and counted directly (AVX-512)
  std::uint64_t b = first;
#if HWY_TARGET != HWY_SCALAR  // one lane: the plain loop below does it all
  constexpr int kSets = 4;    // more spill on AVX2, fewer leave the multiplier idle (measured)
  const hn::Repartition<std::uint32_t, decltype(d)> d32;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t step = kSets * lanes;
  const auto m0 = hn::Set(d, kMultiplier0), m1 = hn::Set(d, kMultiplier1);
#if HWY_TARGET != HWY_AVX3 && HWY_TARGET != HWY_AVX3_DL
  const hn::RebindToSigned<decltype(d)> di;
  const auto sign = hn::Set(d, std::uint64_t{1} << 63);
#endif
  for (; b + step <= last; b += step) {
    hn::Vec<decltype(d)> x[kSets][4];
    for (int s = 0; s < kSets; ++s) {
      const auto index = hn::Iota(d, b + s * lanes);
      x[s][0] = index;  // low 32 bits are read
      x[s][1] = hn::ShiftRight<32>(index);
      x[s][2] = hn::Set(d, kStream);
      x[s][3] = hn::Zero(d);
    }
    std::uint32_t k0 = static_cast<std::uint32_t>(seed),
                  k1 = static_cast<std::uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const auto key0 = hn::Set(d, k0), key1 = hn::Set(d, k1);
      for (int s = 0; s < kSets; ++s) {
        auto* v = x[s];
        const auto p0 = hn::MulEven(hn::BitCast(d32, v[0]), hn::BitCast(d32, m0));
        const auto p1 = hn::MulEven(hn::BitCast(d32, v[2]), hn::BitCast(d32, m1));
        v[0] = hn::Xor3(hn::ShiftRight<32>(p1), v[1], key0);  // one vpternlogq on AVX-512
        v[2] = hn::Xor3(hn::ShiftRight<32>(p0), v[3], key1);
        v[1] = p1;
        v[3] = p0;
      }
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    // Sample (u, v) hits when u^2 + v^2 < 2^64: the 64-bit sum does not wrap.
    for (int s = 0; s < kSets; ++s) {
      const auto* v = x[s];
      for (int half = 0; half < 2; ++half) {
        const auto u = v[2 * half], w = v[2 * half + 1];  // MulEven reads the low halves only
        const auto uu = hn::MulEven(hn::BitCast(d32, u), hn::BitCast(d32, u));
        const auto ww = hn::MulEven(hn::BitCast(d32, w), hn::BitCast(d32, w));
        const auto sum = hn::Add(uu, ww);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
        // An unsigned compare into a mask register, counted with popcnt.
        wrapped_count += hn::CountTrue(d, sum < uu);
#else
        // sum < uu unsigned, as a signed compare of both with the sign bit flipped:
        // AVX2 and SSE4 compare signed 64-bit lanes in one instruction.
        const auto wrapped =
            hn::BitCast(di, hn::Xor(sum, sign)) < hn::BitCast(di, hn::Xor(uu, sign));
        misses = hn::Sub(misses, hn::BitCast(d, hn::VecFromMask(di, wrapped)));  // all ones = -1
#endif
      }
    }
  }
#endif
  std::uint64_t total = 2 * (b - first) - hn::GetLane(hn::SumOfLanes(d, misses)) - wrapped_count;
  // The remaining blocks, one at a time.
  for (; b < last; ++b) {
    std::uint32_t x0 = static_cast<std::uint32_t>(b), x1 = static_cast<std::uint32_t>(b >> 32);
    std::uint32_t x2 = kStream, x3 = 0;
    std::uint32_t k0 = static_cast<std::uint32_t>(seed),
                  k1 = static_cast<std::uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = std::uint64_t{kMultiplier0} * x0;
      const std::uint64_t p1 = std::uint64_t{kMultiplier1} * x2;
      x0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1 ^ k0;
      x2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3 ^ k1;
      x1 = static_cast<std::uint32_t>(p1);
      x3 = static_cast<std::uint32_t>(p0);
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const std::uint64_t uu = std::uint64_t{x0} * x0, ww = std::uint64_t{x2} * x2;
    total += (uu + std::uint64_t{x1} * x1 >= uu) + (ww + std::uint64_t{x3} * x3 >= ww);
  }
  return total;
}

// ---- ARS-7 and the hit test ------------------------------------------------

// Each 128-bit lane block of a vector holds one ARS block; viewed as 64-bit
// lanes, lane 2j is words 0-1 of block j (sample 2b) and lane 2j+1 words 2-3
// (sample 2b+1), u in the low half and v in the high half. Round keys are the
// same for every block, so they are computed once. The AES rounds run on the
// CPU's AES instructions (VAES on avx3_dl: four blocks per instruction), or
// Highway's constant-time emulation on targets without them (ssse3, emu128).
#if HWY_TARGET != HWY_SCALAR  // no AES rounds on one lane: the portable loop below

// The AVX2 target may also use VAES (256-bit AES rounds: Zen 3, Alder Lake and
// later have it without AVX-512), chosen at run time; the code is compiled for it.
#undef GRIDMR_ARS_ATTR  // foreach_target.h includes this file once per target
#if HWY_TARGET == HWY_AVX2
#define GRIDMR_ARS_ATTR __attribute__((target(HWY_TARGET_STR ",vaes")))
#else
#define GRIDMR_ARS_ATTR
#endif

// One AES round (the last one without MixColumns), on every 128-bit block of x.
template <bool kLast, bool kVaes256, class V>
GRIDMR_ARS_ATTR HWY_INLINE V AesStep(V x, V key) {
#if HWY_TARGET == HWY_AVX2
  if constexpr (kVaes256) {
    return V{kLast ? _mm256_aesenclast_epi128(x.raw, key.raw) : _mm256_aesenc_epi128(x.raw, key.raw)};
  }
#endif
  return kLast ? hn::AESLastRound(x, key) : hn::AESRound(x, key);
}

// The hit test: counts in `misses` (per 64-bit lane) the samples of w, u in the
// low half of a lane and v in the high half, whose u*u + v*v does not fit 64 bits.
template <class D>
GRIDMR_ARS_ATTR HWY_INLINE hn::Vec<D> AddMisses(D d, hn::Vec<D> w, hn::Vec<D> misses) {
  const hn::Repartition<std::uint32_t, D> d32;
  const hn::RebindToSigned<D> di;
  const auto sign = hn::Set(d, std::uint64_t{1} << 63);
  const auto uu = hn::MulEven(hn::BitCast(d32, w), hn::BitCast(d32, w));
  const auto high = hn::ShiftRight<32>(w);
  const auto vv = hn::MulEven(hn::BitCast(d32, high), hn::BitCast(d32, high));
  const auto sum = hn::Add(uu, vv);
  // sum < uu unsigned (the sum wrapped: a miss), as a signed compare with the
  // sign bits flipped: x86 before AVX-512 compares 64-bit lanes signed only.
  const auto wrapped = hn::BitCast(di, hn::Xor(sum, sign)) < hn::BitCast(di, hn::Xor(uu, sign));
  return hn::Sub(misses, hn::BitCast(d, hn::VecFromMask(di, wrapped)));
}

// Whole steps of blocks from `first`, as far as `last` allows; returns the hits
// and moves `first` past the blocks done. D: 64-bit lanes, two per AES block.
// kWideTest: the AES rounds run on D's vectors, and the hit test on pairs of
// them joined into vectors twice as wide (AES rounds on 128-bit vectors where
// the CPU has no VAES, the multiplies on 256-bit ones).
template <class D, int kSets, bool kVaes256 = false, bool kWideTest = false>
GRIDMR_ARS_ATTR std::uint64_t ArsVectorHits(D d, std::uint64_t& first, std::uint64_t last,
                                            std::uint64_t seed) {
  const hn::Repartition<std::uint8_t, decltype(d)> d8;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t blocks_per_vector = lanes / 2;
  const std::size_t step = kSets * blocks_per_vector;
  // Round keys r = 0..7: (seed, 0) plus r Weyl increments, in every 128-bit block.
  hn::Vec<decltype(d8)> keys[gridmr::ars::kRounds + 1];
  {
    HWY_ALIGN std::uint64_t lane_values[hn::MaxLanes(d)];
    std::uint64_t low = seed, high = 0;
    for (int r = 0; r <= gridmr::ars::kRounds; ++r) {
      for (std::size_t i = 0; i < lanes; i += 2) {
        lane_values[i] = low;
        lane_values[i + 1] = high;
      }
      keys[r] = hn::BitCast(d8, hn::Load(d, lane_values));
      low += gridmr::ars::kWeylLow;
      high += gridmr::ars::kWeylHigh;
    }
  }
  // Counter of block j of a vector: (b + j, kStream) as two 64-bit lanes; the
  // next vector's blocks follow on.
  hn::Vec<decltype(d)> counter, next;
  {
    HWY_ALIGN std::uint64_t c[hn::MaxLanes(d)], n[hn::MaxLanes(d)];
    for (std::size_t i = 0; i < lanes; i += 2) {
      c[i] = first + i / 2;
      c[i + 1] = kStream;
      n[i] = blocks_per_vector;
      n[i + 1] = 0;
    }
    counter = hn::Load(d, c);
    next = hn::Load(d, n);
  }
  // The samples whose sum wrapped, per lane: in D's vectors, or twice as wide ones.
  const auto wide = [] {
    if constexpr (kWideTest) return hn::Twice<D>();
    else return D();
  }();
  auto misses = hn::Zero(wide);
  std::uint64_t b = first;
  for (; b + step <= last; b += step) {
    hn::Vec<decltype(d8)> x[kSets];
    for (int s = 0; s < kSets; ++s) {
      x[s] = hn::Xor(hn::BitCast(d8, counter), keys[0]);
      counter = hn::Add(counter, next);
    }
    for (int r = 1; r < gridmr::ars::kRounds; ++r) {
      for (int s = 0; s < kSets; ++s) x[s] = AesStep<false, kVaes256>(x[s], keys[r]);
    }
    for (int s = 0; s < kSets; ++s) x[s] = AesStep<true, kVaes256>(x[s], keys[gridmr::ars::kRounds]);
    if constexpr (kWideTest) {
      static_assert(kSets % 2 == 0);
      for (int s = 0; s < kSets; s += 2) {
        const auto w = hn::Combine(wide, hn::BitCast(d, x[s + 1]), hn::BitCast(d, x[s]));
        misses = AddMisses(wide, w, misses);
      }
    } else {
      for (int s = 0; s < kSets; ++s) misses = AddMisses(d, hn::BitCast(d, x[s]), misses);
    }
  }
  const std::uint64_t hits = 2 * (b - first) - hn::GetLane(hn::SumOfLanes(wide, misses));
  first = b;
  return hits;
}
#endif

std::uint64_t ArsBlockHits(std::uint64_t first, std::uint64_t last, std::uint64_t seed) {
  std::uint64_t b = first;
  std::uint64_t hits = 0;
#if HWY_TARGET == HWY_AVX3_DL
  // VAES: four blocks per AES instruction.
  hits += ArsVectorHits<hn::ScalableTag<std::uint64_t>, 4>({}, b, last, seed);
#elif HWY_TARGET != HWY_SCALAR
#if HWY_TARGET == HWY_AVX2
  // VAES without AVX-512: two blocks per AES instruction.
  static const bool vaes =
      __builtin_cpu_supports("vaes") && std::getenv("GRIDMR_DEBUG_NO_VAES") == nullptr;
  if (vaes) hits += ArsVectorHits<hn::ScalableTag<std::uint64_t>, 4, true>({}, b, last, seed);
#endif
  // Without VAES, Highway splits a wider AES round into 128-bit ones and joins
  // them again, which costs more than it saves (one thread, 2e9 samples, this
  // project's Xeon: avx2 2.97 s with 256-bit vectors, avx3 4.15 s with 512).
  // So: 128-bit vectors, with enough blocks in flight to fill the AES units.
  // With VEX encoding (avx2, avx3) 16 blocks beat 8 on a CPU with two AES
  // units (AMD EPYC Zen 5 under GRIDMR_DEBUG_NO_VAES, one thread, 4e9
  // samples, best of 5: avx2 3.85 -> 3.42 s, avx3 3.71 -> 3.30 s); SSE4's
  // two-operand code loses more to register moves and spills (3.96 s with
  // 8, 4.44 s with 16). Their hit test then runs on pairs of blocks vectors
  // joined into 256-bit ones, half the multiplies and compares (same measure,
  // best of 5: avx2 3.63 -> 3.11 s, avx3 3.50 -> 3.06 s).
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
  hits += ArsVectorHits<hn::CappedTag<std::uint64_t, 2>, 16, false, true>({}, b, last, seed);
#endif
  hits += ArsVectorHits<hn::CappedTag<std::uint64_t, 2>, 8>({}, b, last, seed);
#endif
  for (; b < last; ++b) {  // the remaining blocks, one at a time
    const gridmr::ars::Block w = gridmr::ars::ars4x32_7(
        {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), kStream, 0},
        {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32), 0, 0});
    const std::uint64_t uu = std::uint64_t{w[0]} * w[0], ww = std::uint64_t{w[2]} * w[2];
    hits += (uu + std::uint64_t{w[1]} * w[1] >= uu) + (ww + std::uint64_t{w[3]} * w[3] >= ww);
  }
  return hits;
}

}  // namespace gridmr::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cstdlib>
#include <string_view>

#include "gridmr/errors.hpp"

namespace gridmr::simd {

HWY_EXPORT(FoldAndClassify);
HWY_EXPORT(ListWordEdges);
HWY_EXPORT(ListTabsAndNewlines);
HWY_EXPORT(PhiloxBlockHits);
HWY_EXPORT(ArsBlockHits);

void fold_and_classify(char* data, std::size_t size, std::uint64_t* mask) {
  HWY_DYNAMIC_DISPATCH(FoldAndClassify)(data, size, mask);
}

std::size_t list_word_edges(const std::uint64_t* mask, std::size_t size, bool in_word,
                            std::uint32_t* out) {
  return HWY_DYNAMIC_DISPATCH(ListWordEdges)(mask, size, in_word, out);
}

std::size_t list_tabs_and_newlines(const char* data, std::size_t size, std::uint32_t* out) {
  return HWY_DYNAMIC_DISPATCH(ListTabsAndNewlines)(data, size, out);
}

std::uint64_t philox_block_hits(std::uint64_t first, std::uint64_t last, std::uint64_t seed) {
  return HWY_DYNAMIC_DISPATCH(PhiloxBlockHits)(first, last, seed);
}

std::uint64_t ars_block_hits(std::uint64_t first, std::uint64_t last, std::uint64_t seed) {
  return HWY_DYNAMIC_DISPATCH(ArsBlockHits)(first, last, seed);
}

namespace {

std::string lower_name(std::int64_t target) {
  std::string name = hwy::TargetName(target);
  for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return name;
}

// Targets of `set`, best first (Highway's better targets have lower bits).
std::vector<std::string> names_of(std::int64_t set) {
  std::vector<std::string> names;
  for (std::int64_t bits = set; bits != 0; bits &= bits - 1)
    names.push_back(lower_name(bits & -bits));
  return names;
}

}  // namespace

std::vector<std::string> targets_compiled() { return names_of(HWY_TARGETS); }
std::vector<std::string> targets_supported() {
  return names_of(hwy::SupportedTargets() & HWY_TARGETS);
}
std::string target_in_use() {
  const std::int64_t supported = hwy::SupportedTargets() & HWY_TARGETS;
  return lower_name(supported & -supported);
}

void choose_target_from_environment() {
  const char* wanted = std::getenv("GRIDMR_SIMD");
  if (wanted != nullptr && *wanted != '\0') choose_target(wanted);
}

void choose_target(const std::string& wanted_name) {
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU has
  if (wanted_name.empty()) return;
  const char* wanted = wanted_name.c_str();
  for (std::int64_t bits = HWY_TARGETS; bits != 0; bits &= bits - 1) {
    const std::int64_t target = bits & -bits;
    if (lower_name(target) != wanted) continue;
    if ((hwy::SupportedTargets() & target) == 0) {
      throw UsageError("GRIDMR_SIMD=" + std::string(wanted) +
                       ": this CPU lacks that target (it has " +
                       [] {
                         std::string list;
                         for (const auto& n : targets_supported())
                           list += (list.empty() ? "" : ", ") + n;
                         return list;
                       }() +
                       ")");
    }
    hwy::SetSupportedTargetsForTest(target);
    return;
  }
  std::string list;
  for (const auto& n : targets_compiled()) list += (list.empty() ? "" : ", ") + n;
  throw UsageError("GRIDMR_SIMD=" + std::string(wanted) +
                   ": unknown SIMD target (compiled in: " + list + ")");
}

}  // namespace gridmr::simd
#endif  // HWY_ONCE
