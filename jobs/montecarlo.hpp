// Monte Carlo: estimates pi from random points in the unit square, reproducibly.
#pragma once

#include <cmath>
#include <cstdint>

#include "gridmr/api.hpp"

namespace jobs {

struct MonteCarlo {
  static constexpr const char* name = "montecarlo";

  struct Config {
    std::uint64_t samples = 1'000'000'000;
    std::uint64_t seed = 1;
    std::uint64_t unit_samples = 1ull << 24;
  };

  // Units are blocks of samples: unit i holds samples [i * unit_samples, ...).
  static gridmr::Plan plan(const Config& config, const gridmr::EngineOptions&) {
    return gridmr::plan_samples(config.samples, config.unit_samples);
  }

  // One pair per unit: (unit id, hits in the quarter disc). The random stream is
  // keyed by the seed and the sample's global index, never by rank or thread.
  template <class Emit>
  static void map(const Config& config, gridmr::MapInput& in, Emit& emit) {
    const gridmr::WorkUnit& unit = in.unit();
    emit(gridmr::ordered_key(unit.source), count_hits(config.seed, unit.begin, unit.end));
  }

  static std::uint64_t combine(std::uint64_t a, std::uint64_t b) { return a + b; }

  static void write(gridmr::ResultWriter& out, const gridmr::Result& result,
                    const gridmr::Plan& plan, const Config& config) {
    const double n = static_cast<double>(config.samples);
    const double p = static_cast<double>(result.total_value) / n;
    out.write_values("montecarlo/unit_hits", result);  // keys sort in unit order
    out.set_attribute("montecarlo", "samples", config.samples);
    out.set_attribute("montecarlo", "hits", result.total_value);
    out.set_attribute("montecarlo", "estimate", 4 * p);
    out.set_attribute("montecarlo", "std_error", 4 * std::sqrt(p * (1 - p) / n));
    out.set_attribute("montecarlo", "seed", config.seed);
    out.set_attribute("montecarlo", "units", std::uint64_t{plan.total_units});
  }

  // Hits among samples [begin, end) of the stream of `seed` (montecarlo_kernel.cpp):
  // with AVX-512 where the build has it, and the portable loop that defines it.
  static std::uint64_t count_hits(std::uint64_t seed, std::uint64_t begin, std::uint64_t end);
  static std::uint64_t count_hits_portable(std::uint64_t seed, std::uint64_t begin,
                                           std::uint64_t end);
};

}  // namespace jobs
