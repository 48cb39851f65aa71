// Word count: how often each word occurs in a set of text files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gridmr/api.hpp"

namespace jobs {

struct WordCount {
  static constexpr const char* name = "wordcount";

  struct Config {
    std::vector<std::string> inputs;  // files and directories
  };

  static gridmr::Plan plan(const Config& config, const gridmr::EngineOptions& options) {
    return gridmr::plan_files(config.inputs, options.unit_size);
  }

  // Every word that starts in the unit, once.
  template <class Emit>
  static void map(const Config&, gridmr::MapInput& in, Emit& emit) {
    in.for_each_word([&](gridmr::Word word) { emit(word, 1); });
  }

  static std::uint64_t combine(std::uint64_t a, std::uint64_t b) { return a + b; }

  static void write(gridmr::ResultWriter& out, const gridmr::Result& result,
                    const gridmr::Plan& plan, const Config&) {
    out.write_keys("wordcount/keys", result);
    out.write_values("wordcount/counts", result);
    out.set_attribute("wordcount", "total_words", result.total_value);
    out.set_attribute("wordcount", "unique_words", result.total_keys);
    out.set_attribute("wordcount", "input_files", std::uint64_t{plan.sources.size()});
    out.set_attribute("wordcount", "input_bytes", plan.total_bytes);
  }
};

}  // namespace jobs
