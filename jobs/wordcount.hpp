// Word count: how often each word occurs in a set of text files.
#pragma once

#include <cstdint>
#include <cstdio>

#include "gridmr/gridmr.hpp"

namespace jobs {

struct WordCount {
  static constexpr const char* name = "wordcount";
  static constexpr const char* description =
      "Count the words of text files (a word: a run of ASCII letters, digits and bytes >= 0x80)";
  static constexpr gridmr::Input input = gridmr::Input::kText;
  using Value = std::uint64_t;

  struct Config {};
  static void options(gridmr::JobOptions&, Config&) {}

  // Every word that starts in the unit, once.
  template <class Emit>
  static void map(const Config&, gridmr::MapInput& in, Emit& emit) {
    in.emit_each_word(emit, Value{1});
  }

  static Value combine(Value a, Value b) { return a + b; }

  static void write(gridmr::Output& out, const gridmr::Result<Value>& result, const Config&) {
    out.write_keys("wordcount/keys", result.keys);
    out.write("wordcount/counts", result.values);
    out.attribute("wordcount", "total_words", result.total);
    out.attribute("wordcount", "unique_words", result.total_keys);
    out.attribute("wordcount", "input_files", std::uint64_t{result.plan->sources.size()});
    out.attribute("wordcount", "input_bytes", result.plan->total_bytes);
  }

  static void show(const gridmr::ResultFile& file, std::size_t top, std::FILE* out) {
    const auto files = file.uint_attribute("wordcount", "input_files");
    std::fprintf(out, "words:    %llu in total, %llu distinct, from %llu file%s (%llu bytes)\n",
                 static_cast<unsigned long long>(file.uint_attribute("wordcount", "total_words")),
                 static_cast<unsigned long long>(file.uint_attribute("wordcount", "unique_words")),
                 static_cast<unsigned long long>(files), files == 1 ? "" : "s",
                 static_cast<unsigned long long>(file.uint_attribute("wordcount", "input_bytes")));
    gridmr::show_top_keys(file, "wordcount/keys", "wordcount/counts", top, out);
  }
};

}  // namespace jobs
