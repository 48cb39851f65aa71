// `gridmr show`: a human summary of a result file, read serially.
#include "apps/show.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "gridmr/core/sizes.hpp"
#include "gridmr/output/result_reader.hpp"

namespace gridmr {

namespace {

void show_wordcount(const ResultReader& file, std::size_t top, std::FILE* out) {
  const auto files = file.uint_attribute("wordcount", "input_files");
  const auto bytes = file.uint_attribute("wordcount", "input_bytes");
  fmt::print(out, "words:    {} in total, {} distinct, from {} file{} ({})\n",
             file.uint_attribute("wordcount", "total_words"),
             file.uint_attribute("wordcount", "unique_words"), files, files == 1 ? "" : "s",
             format_bytes(bytes));
  const auto counts = file.read_u64("wordcount/counts");
  const auto offsets = file.read_u64("wordcount/keys/offsets");
  std::vector<std::size_t> order(counts.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t shown = std::min(top, order.size());
  // Most frequent first; equal counts in key order (the file's order).
  std::partial_sort(order.begin(), order.begin() + shown, order.end(),
                    [&](std::size_t a, std::size_t b) {
                      return counts[a] != counts[b] ? counts[a] > counts[b] : a < b;
                    });
  if (shown == 0) return;
  fmt::print(out, "top {}:\n", shown);
  for (std::size_t i = 0; i < shown; ++i) {
    const std::size_t k = order[i];
    fmt::print(out, "  {:>12}  {}\n", counts[k],
               file.read_bytes("wordcount/keys/data", offsets[k], offsets[k + 1]));
  }
}

void show_montecarlo(const ResultReader& file, std::FILE* out) {
  const double estimate = file.double_attribute("montecarlo", "estimate");
  const double error = file.double_attribute("montecarlo", "std_error");
  const double pi = 3.14159265358979323846;
  fmt::print(out, "estimate: {:.12f} +/- {:.3g} (standard error)\n", estimate, error);
  fmt::print(out, "pi:       {:.12f} (off by {:.2f} standard errors)\n", pi,
             error > 0 ? std::abs(estimate - pi) / error : 0.0);
  fmt::print(out, "samples:  {} ({} hits) in {} units, seed {}\n",
             file.uint_attribute("montecarlo", "samples"), file.uint_attribute("montecarlo", "hits"),
             file.uint_attribute("montecarlo", "units"), file.uint_attribute("montecarlo", "seed"));
}

}  // namespace

void show_result(const std::string& path, std::size_t top, std::FILE* out) {
  const ResultReader file(path);
  const std::string job = file.string_attribute("/", "job");
  fmt::print(out, "file:     {}\n", path);
  fmt::print(out, "job:      {} (gridmr {}, format {})\n", job,
             file.string_attribute("/", "gridmr_version"),
             file.uint_attribute("/", "format_version"));
  fmt::print(out, "command:  {}\n", file.string_attribute("/", "command_line"));
  fmt::print(out, "run:      {} rank{} x {} thread{}, {:.3f} s\n", file.uint_attribute("/", "ranks"),
             file.uint_attribute("/", "ranks") == 1 ? "" : "s",
             file.uint_attribute("/", "threads_per_rank"),
             file.uint_attribute("/", "threads_per_rank") == 1 ? "" : "s",
             file.double_attribute("/", "elapsed_seconds"));
  if (job == "wordcount") show_wordcount(file, top, out);
  if (job == "montecarlo") show_montecarlo(file, out);
}

}  // namespace gridmr
