// Monte Carlo: estimates pi from random points in the unit square, reproducibly.
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "gridmr/gridmr.hpp"

namespace jobs {

struct MonteCarlo {
  static constexpr const char* name = "montecarlo";
  static constexpr const char* description =
      "Estimate pi from random points in the unit square, reproducibly";
  static constexpr gridmr::Input input = gridmr::Input::kGenerated;
  using Value = std::uint64_t;  // hits

  struct Config {
    std::uint64_t samples = 1'000'000'000;
    std::uint64_t seed = 1;
    std::uint64_t unit_samples = 1ull << 24;
    std::string generator = "ars";  // "ars" (ARS-7) or "philox" (Philox4x32-10)
  };

  static void options(gridmr::JobOptions& o, Config& c) {
    o.count("--samples", c.samples, "Number of samples; accepts 1e10");
    o.count("--seed", c.seed, "Seed of the random stream, 0 to 2^64-1", true);
    o.count("--unit-samples", c.unit_samples, "Samples per work unit");
    o.choice("--generator", c.generator, {"ars", "philox"},
             "Counter-based generator: ARS-7 (AES rounds, fast on every x86-64 CPU) or "
             "Philox4x32-10 (the stream of files that record no generator)");
  }

  // Units are blocks of samples: unit i holds samples [i * unit_samples, ...).
  static gridmr::Plan plan(const Config& c) {
    return gridmr::plan_range(c.samples, c.unit_samples, "samples", "--unit-samples");
  }

  // One pair per unit: (unit id, hits in the quarter disc). The random stream is
  // keyed by the seed and the sample's global index, never by rank or thread.
  template <class Emit>
  static void map(const Config& c, gridmr::MapInput& in, Emit& emit) {
    const gridmr::WorkUnit& unit = in.unit();
    emit(gridmr::ordered_key(unit.source),
         count_hits(generator_of(c), c.seed, unit.begin, unit.end));
  }

  static Value combine(Value a, Value b) { return a + b; }

  static void write(gridmr::Output& out, const gridmr::Result<Value>& result, const Config& c) {
    const double n = static_cast<double>(c.samples);
    const double p = static_cast<double>(result.total) / n;
    out.write("montecarlo/unit_hits", result.values);  // keys sort in unit order
    out.attribute("montecarlo", "samples", c.samples);
    out.attribute("montecarlo", "hits", result.total);
    out.attribute("montecarlo", "estimate", 4 * p);
    out.attribute("montecarlo", "std_error", 4 * std::sqrt(p * (1 - p) / n));
    out.attribute("montecarlo", "seed", c.seed);
    out.attribute("montecarlo", "generator", std::string(generator_name(generator_of(c))));
    out.attribute("montecarlo", "units", std::uint64_t{result.plan->total_units});
  }

  static void show(const gridmr::ResultFile& file, std::size_t top, std::FILE* out) {
    const double estimate = file.double_attribute("montecarlo", "estimate");
    const double error = file.double_attribute("montecarlo", "std_error");
    const double pi = 3.14159265358979323846;
    std::fprintf(out, "estimate: %.12f +/- %.3g (standard error)\n", estimate, error);
    std::fprintf(out, "pi:       %.12f (off by %.2f standard errors)\n", pi,
                 error > 0 ? std::abs(estimate - pi) / error : 0.0);
    std::fprintf(
        out, "samples:  %" PRIu64 " (%" PRIu64 " hits) in %" PRIu64 " units, seed %" PRIu64 "\n",
        file.uint_attribute("montecarlo", "samples"), file.uint_attribute("montecarlo", "hits"),
        file.uint_attribute("montecarlo", "units"), file.uint_attribute("montecarlo", "seed"));
    // Files written before the generator was recorded came from Philox4x32-10.
    const std::string generator = file.has_attribute("montecarlo", "generator")
                                      ? file.string_attribute("montecarlo", "generator")
                                      : std::string(generator_name(Generator::kPhilox));
    std::fprintf(out, "generator: %s\n", generator.c_str());
    const auto hits = file.read_u64("montecarlo/unit_hits");  // --top: the first units' hits
    for (std::size_t i = 0; i < hits.size() && i < top; ++i) {
      std::fprintf(out, "  unit %zu: %" PRIu64 " hits\n", i, hits[i]);
    }
  }

  enum class Generator { kArs, kPhilox };
  static Generator generator_of(const Config& c) {
    return c.generator == "philox" ? Generator::kPhilox : Generator::kArs;
  }
  // The name the result file records, with the round count: "ars4x32-7", "philox4x32-10".
  static const char* generator_name(Generator g) {
    return g == Generator::kPhilox ? "philox4x32-10" : "ars4x32-7";
  }

  // Hits among samples [begin, end) of the stream of `seed` (montecarlo_kernel.cpp):
  // with the SIMD kernel the CPU runs best, and the portable loop that defines it.
  static std::uint64_t count_hits(Generator g, std::uint64_t seed, std::uint64_t begin,
                                  std::uint64_t end);
  static std::uint64_t count_hits_portable(Generator g, std::uint64_t seed, std::uint64_t begin,
                                           std::uint64_t end);
};

}  // namespace jobs
