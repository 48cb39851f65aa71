// An inverted index: for each word, the files it occurs in (by their number in
// the sorted list of input files) and how often. One work unit per file.
//
// A grouped job: its Value is gridmr::Group<std::uint64_t>, so each word keeps
// all the file numbers emitted for it (no combine), and the result lists them
// per word, in ascending order, with their counts.
#include <cstdint>
#include <gridmr/gridmr.hpp>

struct InvertedIndex {
  static constexpr const char* name = "index";
  static constexpr const char* description = "For every word, the files it occurs in";
  static constexpr gridmr::Input input = gridmr::Input::kFiles;
  using Value = gridmr::Group<std::uint64_t>;  // file numbers

  struct Config {};
  static void options(gridmr::JobOptions&, Config&) {}

  template <class Emit>
  static void map(const Config&, gridmr::MapInput& in, Emit& emit) {
    const std::uint64_t file = in.file_index();
    in.for_each_word([&](gridmr::Word word) { emit(word, file); });
  }

  // index/words: the words; word i's files are files[offsets[i] : offsets[i+1]],
  // and counts[j] is how often the word occurs in files[j].
  static void write(gridmr::Output& out, const gridmr::Result<Value>& result, const Config&) {
    out.write_keys("index/words", result.keys);
    out.write_offsets("index/postings/offsets", result.sizes);
    out.write("index/postings/files", result.values);
    out.write("index/postings/counts", result.counts);
    out.write_list("index/files", result.plan->sources);
    out.attribute("index", "words", result.total_keys);
    out.attribute("index", "postings", result.total_values);
    out.attribute("index", "occurrences", result.total);
  }
};

int main(int argc, char** argv) { return gridmr::main<InvertedIndex>(argc, argv); }
