// Bigram counts over lines: how often each pair of neighbouring words occurs
// within a line. Lines never straddle work units, so the counts are exact at
// any --unit-size.
#include <cstdint>
#include <gridmr/gridmr.hpp>
#include <string>
#include <string_view>

struct Bigrams {
  static constexpr const char* name = "bigrams";
  static constexpr const char* description = "Count the pairs of neighbouring words on each line";
  static constexpr gridmr::Input input = gridmr::Input::kText;
  using Value = std::uint64_t;

  struct Config {
    std::string separator = " ";  // between the two words of a key
  };
  static void options(gridmr::JobOptions& o, Config& c) {
    o.text("--separator", c.separator, "Text between the two words of a bigram key");
  }

  // Words are runs of ASCII letters and digits, lower-cased.
  template <class Emit>
  static void map(const Config& c, gridmr::MapInput& in, Emit& emit) {
    std::string previous, word, key;
    in.for_each_line([&](std::string_view line) {
      previous.clear();
      for (std::size_t i = 0; i <= line.size(); ++i) {
        const char ch = i < line.size() ? line[i] : ' ';
        const bool letter = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        const bool upper = ch >= 'A' && ch <= 'Z';
        if (letter || upper) {
          word += upper ? static_cast<char>(ch - 'A' + 'a') : ch;
          continue;
        }
        if (word.empty()) continue;
        if (!previous.empty()) {
          key.assign(previous).append(c.separator).append(word);
          emit(std::string_view(key), 1);
        }
        previous.swap(word);
        word.clear();
      }
    });
  }

  static Value combine(Value a, Value b) { return a + b; }

  static void write(gridmr::Output& out, const gridmr::Result<Value>& result, const Config&) {
    out.write_keys("bigrams/keys", result.keys);
    out.write("bigrams/counts", result.values);
    out.attribute("bigrams", "total_bigrams", result.total);
    out.attribute("bigrams", "distinct_bigrams", result.total_keys);
  }
};

int main(int argc, char** argv) { return gridmr::main<Bigrams>(argc, argv); }
