// An inverted index: for each word, the files it occurs in (by their index in
// the sorted list of input files) and how often. One work unit per file.
//
// The key is the word, a 0 byte, and the file index as 8 big-endian bytes: a
// word never holds a 0 byte, so keys sort by word, then by file, and the
// result lists each word's files in order. `index/files` maps indices to paths.
#include <gridmr/gridmr.hpp>

#include <cstdint>
#include <string>
#include <string_view>

struct InvertedIndex {
  static constexpr const char* name = "index";
  static constexpr const char* description = "For every word, the files it occurs in";
  static constexpr gridmr::Input input = gridmr::Input::kFiles;
  using Value = std::uint64_t;  // occurrences of the word in the file

  struct Config {};
  static void options(gridmr::JobOptions&, Config&) {}

  template <class Emit>
  static void map(const Config&, gridmr::MapInput& in, Emit& emit) {
    const gridmr::OrderedKey file = gridmr::ordered_key(in.file_index());
    std::string key;
    in.for_each_word([&](gridmr::Word word) {
      key.assign(word.bytes).push_back('\0');
      key.append(file.bytes, sizeof file.bytes);
      emit(std::string_view(key), 1);
    });
  }

  static Value combine(Value a, Value b) { return a + b; }

  static void write(gridmr::Output& out, const gridmr::Result<Value>& result, const Config&) {
    out.write_keys("index/postings", result.keys);
    out.write("index/counts", result.values);
    out.attribute("index", "postings", result.total_keys);
    out.attribute("index", "occurrences", result.total);
    out.write_list("index/files", result.plan->sources);
    out.attribute("index", "files", std::uint64_t{result.plan->sources.size()});
  }
};

int main(int argc, char** argv) { return gridmr::main<InvertedIndex>(argc, argv); }
