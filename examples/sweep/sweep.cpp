// A parameter sweep, as with Pool.map: a function evaluated at 10,000
// parameters (any number), reduced to its minimum, maximum and mean, and
// also kept per parameter. The value is a struct: HDF5 stores it as a
// compound type with the fields named below.
#include <cmath>
#include <cstdint>
#include <gridmr/gridmr.hpp>
#include <limits>

// Summary statistics that combine in any order: the value type.
struct Summary {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  std::uint64_t count = 0;
  static constexpr auto fields =
      std::tuple{gridmr::field("min", &Summary::min), gridmr::field("max", &Summary::max),
                 gridmr::field("sum", &Summary::sum), gridmr::field("count", &Summary::count)};
};

struct Sweep {
  static constexpr const char* name = "sweep";
  static constexpr const char* description =
      "Evaluate f(x) = sin(x) * exp(-x / scale) at x = 0, step, 2 step, ... and summarise";
  static constexpr gridmr::Input input = gridmr::Input::kGenerated;
  using Value = Summary;

  struct Config {
    std::uint64_t points = 10'000;
    std::uint64_t unit_points = 256;
    double step = 0.01;
    double scale = 25.0;
  };
  static void options(gridmr::JobOptions& o, Config& c) {
    o.count("--points", c.points, "Number of parameters x_i = i * step");
    o.count("--unit-points", c.unit_points, "Parameters per work unit");
    o.number("--step", c.step, "Distance between parameters");
    o.number("--scale", c.scale, "Decay length of f");
  }
  static gridmr::Plan plan(const Config& c) {
    return gridmr::plan_range(c.points, c.unit_points, "points", "--unit-points");
  }

  static double f(const Config& c, std::uint64_t i) {
    const double x = static_cast<double>(i) * c.step;
    return std::sin(x) * std::exp(-x / c.scale);
  }

  // One key per parameter (8-byte big-endian, so keys sort by index).
  template <class Emit>
  static void map(const Config& c, gridmr::MapInput& in, Emit& emit) {
    in.for_each_index([&](std::uint64_t i) {
      const double y = f(c, i);
      emit(gridmr::ordered_key(i), Summary{y, y, y, 1});
    });
  }

  static Summary combine(const Summary& a, const Summary& b) {
    return {std::fmin(a.min, b.min), std::fmax(a.max, b.max), a.sum + b.sum, a.count + b.count};
  }

  static void write(gridmr::Output& out, const gridmr::Result<Value>& result, const Config&) {
    out.write("sweep/values", result.values);  // per parameter, in index order
    const Summary& all = result.total;         // combine() over every parameter, in index order
    out.attribute("sweep", "points", all.count);
    out.attribute("sweep", "min", all.min);
    out.attribute("sweep", "max", all.max);
    out.attribute("sweep", "mean", all.count ? all.sum / static_cast<double>(all.count) : 0.0);
  }
};

int main(int argc, char** argv) { return gridmr::main<Sweep>(argc, argv); }
