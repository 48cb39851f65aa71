// The word rule and the unit-boundary rule of the text reader.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "gridmr/detail/text_reader.hpp"
#include "gridmr/map/tokenizer.hpp"
#include "temp_dir.hpp"

using gridmr::TextReader;
using gridmr::WorkUnit;

namespace {

// An independent statement of the word rule of docs/records.md, written plainly.
std::vector<std::string> reference_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (unsigned char c : text) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter || (c >= '0' && c <= '9') || c >= 0x80) {
      word += static_cast<char>(letter ? (c | 0x20) : c);
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

std::vector<std::string> read_words(TextReader& reader, const std::string& path, WorkUnit unit) {
  std::vector<std::string> words;
  reader.for_each_word(path, unit, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

std::map<std::string, int> histogram(const std::vector<std::string>& words) {
  std::map<std::string, int> h;
  for (const auto& w : words) ++h[w];
  return h;
}

}  // namespace

TEST_CASE("words are runs of ASCII letters, digits and bytes >= 0x80, lower-cased") {
  TempDir dir;
  using namespace std::string_literals;
  const std::string text = "Hello, WORLD! it's 2024\r\nna\xC3\xAFve caf\xC3\xA9\tx\0y z9-Q"s;
  const std::string path = dir.write("a.txt", text);
  TextReader reader;
  const auto words = read_words(reader, path, {0, 0, text.size()});
  CHECK(words == std::vector<std::string>{"hello", "world", "it", "s", "2024", "na\xC3\xAFve",
                                          "caf\xC3\xA9", "x", "y", "z9", "q"});
}

TEST_CASE("a file without a final newline keeps its last word") {
  TempDir dir;
  const std::string path = dir.write("a.txt", "one two three");
  TextReader reader;
  CHECK(read_words(reader, path, {0, 0, 13}) == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("every cut position counts every word exactly once, in the unit where it starts") {
  TempDir dir;
  const std::string text = "The quick  brown\nfox\xE2\x80\x94jumps over,the lazy dog's back 42x";
  const std::string path = dir.write("a.txt", text);
  const auto expected = histogram(reference_words(text));
  TextReader reader(4);  // tiny chunks: words straddle chunk edges too
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    CAPTURE(cut);
    auto words = read_words(reader, path, {0, 0, cut});
    const auto tail = read_words(reader, path, {0, cut, text.size()});
    words.insert(words.end(), tail.begin(), tail.end());
    CHECK(histogram(words) == expected);
  }
}

TEST_CASE("a word longer than several units is counted once, by the unit where it starts") {
  TempDir dir;
  const std::string giant(10000, 'W');
  const std::string text = "before " + giant + " after";
  const std::string path = dir.write("a.txt", text);
  TextReader reader(64);
  std::vector<std::string> words;
  for (std::uint64_t begin = 0; begin < text.size(); begin += 1000) {
    const auto part =
        read_words(reader, path, {0, begin, std::min<std::uint64_t>(begin + 1000, text.size())});
    words.insert(words.end(), part.begin(), part.end());
  }
  REQUIRE(words.size() == 3);
  CHECK(words[0] == "before");
  CHECK(words[1] == std::string(10000, 'w'));
  CHECK(words[2] == "after");
}

TEST_CASE("NUL bytes and CRLF line ends separate words") {
  TempDir dir;
  const std::string text("a\0b\r\nc\r\n\0\0d", 11);
  const std::string path = dir.write("a.txt", text);
  TextReader reader;
  CHECK(read_words(reader, path, {0, 0, text.size()}) ==
        std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("fold_ascii_case changes A-Z only") {
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  std::string folded = all;
  gridmr::fold_ascii_case(folded.data(), folded.size());
  for (int i = 0; i < 256; ++i) {
    CAPTURE(i);
    const int want = (i >= 'A' && i <= 'Z') ? i + 32 : i;
    CHECK(static_cast<unsigned char>(folded[i]) == want);
  }
}
