// Micro-benchmarks (Google Benchmark) of the word count hot path, one piece at a time:
// the reader/tokenizer alone, the combining table alone (keys as std::strings, and as the
// reader's padded views), and std::unordered_map for scale.
// Run: build/gridmr_micro [--benchmark_filter=...]  (reads inputs/kjv, repeated to 64 MiB).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/text_reader.hpp"
#include "gridmr/map/tokenizer.hpp"

namespace {

const std::string& corpus_path() {
  static const std::string path = [] {
    std::string text;
    for (const auto& entry : std::filesystem::directory_iterator(GRIDMR_SOURCE_DIR "/inputs/kjv")) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      text += buffer.str();
    }
    const std::string file = (std::filesystem::temp_directory_path() / "gridmr-micro.txt").string();
    std::ofstream out(file, std::ios::binary);
    for (std::size_t written = 0; written < (64u << 20); written += text.size()) out << text;
    return file;
  }();
  return path;
}

std::uint64_t file_size() { return std::filesystem::file_size(corpus_path()); }

std::vector<std::string> words_of_corpus() {
  std::vector<std::string> words;
  gridmr::TextReader reader;
  reader.for_each_word(corpus_path(), {0, 0, 16u << 20},
                       [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

void tokenizer(benchmark::State& state) {
  gridmr::TextReader reader;
  const std::uint64_t size = file_size();
  for (auto _ : state) {
    std::uint64_t words = 0;
    reader.for_each_word(corpus_path(), {0, 0, size}, [&](std::string_view) { ++words; });
    benchmark::DoNotOptimize(words);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(tokenizer)->Unit(benchmark::kMillisecond);

void key_table_upsert(benchmark::State& state) {
  const auto words = words_of_corpus();
  for (auto _ : state) {
    gridmr::KeyTable<std::uint64_t> table;
    for (const auto& w : words)
      table.upsert(w, 1, [](std::uint64_t a, std::uint64_t b) { return a + b; });
    benchmark::DoNotOptimize(table.size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * words.size()));
}
BENCHMARK(key_table_upsert)->Unit(benchmark::kMillisecond);

// The same words as the map sees them: views into one buffer that goes on
// past each word (gridmr::PaddedView), so short keys are read with two loads.
void key_table_upsert_padded(benchmark::State& state) {
  const auto words = words_of_corpus();
  std::string text;
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const auto& w : words) {
    spans.emplace_back(text.size(), w.size());
    text += w;
    text += ' ';
  }
  text.append(gridmr::kViewPadding, '\0');
  for (auto _ : state) {
    gridmr::KeyTable<std::uint64_t> table;
    for (const auto& [at, size] : spans) {
      table.upsert(gridmr::PaddedView{std::string_view(text.data() + at, size)}, 1,
                   [](std::uint64_t a, std::uint64_t b) { return a + b; });
    }
    benchmark::DoNotOptimize(table.size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * spans.size()));
}
BENCHMARK(key_table_upsert_padded)->Unit(benchmark::kMillisecond);

void unordered_map_increment(benchmark::State& state) {
  const auto words = words_of_corpus();
  for (auto _ : state) {
    std::unordered_map<std::string, std::uint64_t> table;
    for (const auto& w : words) ++table[w];
    benchmark::DoNotOptimize(table.size());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * words.size()));
}
BENCHMARK(unordered_map_increment)->Unit(benchmark::kMillisecond);

void fold_case(benchmark::State& state) {
  std::string text(1 << 20, 'A');
  for (auto _ : state) {
    gridmr::fold_ascii_case(text.data(), text.size());
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(fold_case);

}  // namespace

BENCHMARK_MAIN();
