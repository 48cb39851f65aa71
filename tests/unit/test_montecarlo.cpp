// The Monte Carlo sampler: Philox against Random123, and hit counts against a per-sample reference.
#include <Random123/philox.h>
#if defined(__AES__)
#include <Random123/ars.h>  // AES-NI intrinsics: built with -maes, run where the CPU has AES
#define GRIDMR_HAVE_R123_ARS 1
#endif
#include <doctest/doctest.h>

#include <random>

#include "gridmr/gridmr.hpp"
#include "gridmr/simd/ars.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/philox.hpp"
#include "simd_targets.hpp"

namespace {

using Generator = jobs::MonteCarlo::Generator;

// Block `b` of the stream of `seed`, as documented, from Random123 itself.
std::array<std::uint32_t, 4> reference_block(Generator g, std::uint64_t seed, std::uint64_t b) {
  const auto seed_low = static_cast<std::uint32_t>(seed),
             seed_high = static_cast<std::uint32_t>(seed >> 32);
  const std::array<std::uint32_t, 4> counter = {
      static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), 0x70690000u, 0u};
  if (g == Generator::kPhilox) {
    const r123::Philox4x32 philox;
    const auto w =
        philox({{counter[0], counter[1], counter[2], counter[3]}}, {{seed_low, seed_high}});
    return {w[0], w[1], w[2], w[3]};
  }
#if GRIDMR_HAVE_R123_ARS
  if (__builtin_cpu_supports("aes")) {
    const auto w = ars4x32_R(7, {{counter[0], counter[1], counter[2], counter[3]}},
                             {{seed_low, seed_high, 0, 0}});
    return {w.v[0], w.v[1], w.v[2], w.v[3]};
  }
#endif
  // No AES-NI here: the portable form, itself checked against Random123 where it runs.
  return gridmr::ars::ars4x32_7(counter, {seed_low, seed_high, 0, 0});
}

// The stream as documented, drawn one sample at a time from Random123 itself.
std::uint64_t reference_hits(Generator g, std::uint64_t seed, std::uint64_t begin,
                             std::uint64_t end) {
  std::uint64_t hits = 0;
  for (std::uint64_t s = begin; s < end; ++s) {
    const auto w = reference_block(g, seed, s / 2);
    const long double x = w[2 * (s % 2)] / 4294967296.0L, y = w[2 * (s % 2) + 1] / 4294967296.0L;
    hits += x * x + y * y < 1.0L;  // long double holds these squares exactly
  }
  return hits;
}

}  // namespace

TEST_CASE("Philox4x32-10 matches Random123 bit for bit") {
  r123::Philox4x32 reference;
  std::mt19937_64 pick(7);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t a = pick(), b = pick(), k = pick();
    const r123::Philox4x32::ctr_type counter = {
        {static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32),
         static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32)}};
    const r123::Philox4x32::key_type key = {
        {static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32)}};
    const auto want = reference(counter, key);
    const auto got = gridmr::philox::philox4x32_10({counter[0], counter[1], counter[2], counter[3]},
                                                   key[0], key[1]);
    for (int w = 0; w < 4; ++w) CHECK(got[w] == want[w]);
  }
}

#if GRIDMR_HAVE_R123_ARS
TEST_CASE("ARS-7 matches Random123's ars4x32 bit for bit") {
  if (!__builtin_cpu_supports("aes")) {
    MESSAGE("this CPU has no AES-NI: Random123's ARS cannot run here");
    return;
  }
  std::mt19937_64 pick(9);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t a = pick(), b = pick(), k = pick(), l = i % 2 ? pick() : 0;
    const ars4x32_ctr_t counter = {
        {static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32),
         static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32)}};
    const ars4x32_key_t key = {{static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(k >> 32),
                                static_cast<std::uint32_t>(l),
                                static_cast<std::uint32_t>(l >> 32)}};
    const auto want = ars4x32_R(7, counter, key);
    const auto got =
        gridmr::ars::ars4x32_7({counter.v[0], counter.v[1], counter.v[2], counter.v[3]},
                               {key.v[0], key.v[1], key.v[2], key.v[3]});
    for (int w = 0; w < 4; ++w) CHECK(got[w] == want.v[w]);
  }
}
#endif

TEST_CASE(
    "hit counts equal a per-sample count with Random123, for odd and even unit edges, for both "
    "generators on every target") {
  for (const Generator g : {Generator::kArs, Generator::kPhilox})
    for_each_simd_target([g] {
      std::mt19937_64 pick(11);
      for (int i = 0; i < 200; ++i) {
        const std::uint64_t seed = i < 3 ? i : pick();
        const std::uint64_t begin = (i % 5 == 0) ? (pick() >> 1) : pick() % 1000;
        const std::uint64_t end = begin + 1 + pick() % 700;
        CAPTURE(seed);
        CAPTURE(begin);
        CAPTURE(end);
        const std::uint64_t want = reference_hits(g, seed, begin, end);
        CHECK(jobs::MonteCarlo::count_hits(g, seed, begin, end) == want);
        CHECK(jobs::MonteCarlo::count_hits_portable(g, seed, begin, end) == want);
      }
    });
}

TEST_CASE("the SIMD kernels count long block ranges as the portable loop does, on every target") {
  for (const Generator g : {Generator::kArs, Generator::kPhilox}) {
    const std::uint64_t want = jobs::MonteCarlo::count_hits_portable(g, 42, 1'000'003, 1'300'001);
    for_each_simd_target(
        [&] { CHECK(jobs::MonteCarlo::count_hits(g, 42, 1'000'003, 1'300'001) == want); });
  }
}

TEST_CASE("hits add up across any cut of a sample range") {
  for (const Generator g : {Generator::kArs, Generator::kPhilox}) {
    const std::uint64_t total = jobs::MonteCarlo::count_hits(g, 5, 0, 100001);
    for (std::uint64_t cut : {1ull, 2ull, 63ull, 64ull, 65ull, 50000ull, 99999ull}) {
      CHECK(jobs::MonteCarlo::count_hits(g, 5, 0, cut) +
                jobs::MonteCarlo::count_hits(g, 5, cut, 100001) ==
            total);
    }
  }
}

TEST_CASE("ordered keys sort bytewise in numeric order") {
  const gridmr::OrderedKey a = gridmr::ordered_key(255), b = gridmr::ordered_key(256);
  CHECK(std::string_view(a) < std::string_view(b));
  CHECK(std::string(gridmr::ordered_key(0x0102030405060708ull)) ==
        "\x01\x02\x03\x04\x05\x06\x07\x08");
}
