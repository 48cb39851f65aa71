// The Monte Carlo sampler: Philox against Random123, and hit counts against a per-sample reference.
#include <Random123/philox.h>
#include <doctest/doctest.h>

#include <random>

#include "gridmr/gridmr.hpp"
#include "jobs/montecarlo.hpp"
#include "jobs/philox.hpp"
#include "simd_targets.hpp"

namespace {

// The stream as documented, drawn one sample at a time from Random123 itself.
std::uint64_t reference_hits(std::uint64_t seed, std::uint64_t begin, std::uint64_t end) {
  r123::Philox4x32 philox;
  const r123::Philox4x32::key_type key = {
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  std::uint64_t hits = 0;
  for (std::uint64_t s = begin; s < end; ++s) {
    const std::uint64_t b = s / 2;
    const r123::Philox4x32::ctr_type counter = {
        {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), 0x70690000u, 0u}};
    const auto w = philox(counter, key);
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

TEST_CASE(
    "hit counts equal a per-sample count with Random123, for odd and even unit edges, on every "
    "target") {
  for_each_simd_target([] {
    std::mt19937_64 pick(11);
    for (int i = 0; i < 200; ++i) {
      const std::uint64_t seed = i < 3 ? i : pick();
      const std::uint64_t begin = (i % 5 == 0) ? (pick() >> 1) : pick() % 1000;
      const std::uint64_t end = begin + 1 + pick() % 700;
      CAPTURE(seed);
      CAPTURE(begin);
      CAPTURE(end);
      const std::uint64_t want = reference_hits(seed, begin, end);
      CHECK(jobs::MonteCarlo::count_hits(seed, begin, end) == want);
      CHECK(jobs::MonteCarlo::count_hits_portable(seed, begin, end) == want);
    }
  });
}

TEST_CASE("the SIMD kernel counts long block ranges as the portable loop does, on every target") {
  const std::uint64_t want = jobs::MonteCarlo::count_hits_portable(42, 1'000'003, 1'300'001);
  for_each_simd_target(
      [&] { CHECK(jobs::MonteCarlo::count_hits(42, 1'000'003, 1'300'001) == want); });
}

TEST_CASE("hits add up across any cut of a sample range") {
  const std::uint64_t total = jobs::MonteCarlo::count_hits(5, 0, 100001);
  for (std::uint64_t cut : {1ull, 2ull, 63ull, 64ull, 65ull, 50000ull, 99999ull}) {
    CHECK(jobs::MonteCarlo::count_hits(5, 0, cut) + jobs::MonteCarlo::count_hits(5, cut, 100001) ==
          total);
  }
}

TEST_CASE("ordered keys sort bytewise in numeric order") {
  const gridmr::OrderedKey a = gridmr::ordered_key(255), b = gridmr::ordered_key(256);
  CHECK(std::string_view(a) < std::string_view(b));
  CHECK(std::string(gridmr::ordered_key(0x0102030405060708ull)) ==
        "\x01\x02\x03\x04\x05\x06\x07\x08");
}
