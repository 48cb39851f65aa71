// Records other than words: lines cut by unit boundaries, whole files, value types.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "gridmr/gridmr.hpp"
#include "temp_dir.hpp"

using gridmr::TextReader;
using gridmr::WorkUnit;

namespace {

// Lines as the docs define them, written plainly: split at '\n'; a last line without one counts.
std::vector<std::string> reference_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (char c : text) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// The lines of all units of `unit_size` bytes, in order, read with chunks of `chunk` bytes.
std::vector<std::string> lines_by_units(const std::string& path, std::uint64_t size,
                                        std::uint64_t unit_size, std::size_t chunk) {
  TextReader reader(chunk);
  std::vector<std::string> lines;
  for (std::uint64_t begin = 0; begin < size; begin += unit_size) {
    const WorkUnit unit{0, begin, std::min(size, begin + unit_size)};
    reader.for_each_line(path, unit, [&](std::string_view l) { lines.emplace_back(l); });
  }
  return lines;
}

}  // namespace

TEST_CASE("a line cut by a unit boundary is read once, by the unit where it starts") {
  TempDir dir;
  const std::vector<std::string> texts = {"one line\n",
                                          "no final newline",
                                          "\n\n\n",
                                          "a\r\nb\r\n\r\n",
                                          "x",
                                          "\nstarts empty",
                                          "long " + std::string(300, 'y') + "\nshort\n\nend",
                                          "tab\tand\0nul\n"};
  for (const std::string& text : texts) {
    const std::string path = dir.write("t.txt", text);
    const auto expected = reference_lines(text);
    for (std::uint64_t unit = 1; unit <= text.size() + 1; ++unit) {
      for (std::size_t chunk : {1, 2, 3, 7, 64, 65536}) {
        CAPTURE(text);
        CAPTURE(unit);
        CAPTURE(chunk);
        CHECK(lines_by_units(path, text.size(), unit, chunk) == expected);
      }
    }
  }
}

TEST_CASE("an empty file has no lines") {
  TempDir dir;
  const std::string path = dir.write("e.txt", "");
  CHECK(lines_by_units(path, 0, 16, 64).empty());
}

TEST_CASE("a whole-file unit reads every byte of the file") {
  TempDir dir;
  const std::string text = std::string(200000, 'q') + "\0tail";
  const std::string path = dir.write("w.bin", text);
  TextReader reader;
  CHECK(reader.read_all(path, {0, 0, text.size()}) == text);
  CHECK(reader.read_all(path, {0, 5, 9}) == text.substr(5, 4));
}

TEST_CASE("a unit planned past the end of a shrunk file is an error, not a short read") {
  TempDir dir;
  const std::string path = dir.write("s.txt", "short\n");
  TextReader reader;
  CHECK_THROWS_AS(reader.for_each_line(path, {0, 0, 100}, [](std::string_view) {}),
                  gridmr::RunError);
  CHECK_THROWS_AS(reader.read_all(path, {0, 0, 100}), gridmr::RunError);
}

namespace {
struct MinMax {
  double min, max;
  static constexpr auto fields =
      std::tuple{gridmr::field("min", &MinMax::min), gridmr::field("max", &MinMax::max)};
};
struct NoFields {
  double a;
};
}  // namespace

// What the engine can carry is checked when the job compiles, never converted silently.
static_assert(gridmr::Value<std::uint64_t> && gridmr::Value<double> && gridmr::Value<std::int32_t>);
static_assert(gridmr::Value<std::array<float, 3>> && gridmr::Value<MinMax>);
static_assert(!gridmr::Value<std::string> && !gridmr::Value<std::vector<int>>);
static_assert(!gridmr::Value<NoFields> && !gridmr::Value<bool> && !gridmr::Value<long double>);
static_assert(gridmr::EmittableAs<int, std::uint64_t> && gridmr::EmittableAs<int, double>);
static_assert(gridmr::EmittableAs<float, double> && gridmr::EmittableAs<MinMax&, MinMax>);
static_assert(!gridmr::EmittableAs<double, std::uint64_t> && !gridmr::EmittableAs<double, float>);
static_assert(!gridmr::EmittableAs<MinMax, double> && !gridmr::EmittableAs<double, MinMax>);

TEST_CASE("a struct value is described by its fields, at their offsets") {
  const auto type = gridmr::describe<MinMax>();
  REQUIRE(type->kind == gridmr::TypeDescription::Kind::kCompound);
  REQUIRE(type->fields.size() == 2);
  CHECK(type->fields[0].name == "min");
  CHECK(type->fields[1].name == "max");
  CHECK(type->fields[1].offset == offsetof(MinMax, max));
  CHECK(gridmr::describe<std::array<std::int16_t, 4>>()->element->kind ==
        gridmr::TypeDescription::Kind::kSigned);
}

namespace {
template <class E>
void check_ordered_encoding(std::vector<E> values) {
  std::vector<std::string> encoded;
  for (const E& v : values) {
    std::string bytes(sizeof(E), '\0');
    gridmr::detail::encode_ordered(v, bytes.data());
    CHECK(gridmr::detail::decode_ordered<E>(bytes.data()) == v);
    encoded.push_back(bytes);
  }
  std::sort(values.begin(), values.end());
  std::sort(encoded.begin(), encoded.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  });
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(gridmr::detail::decode_ordered<E>(encoded[i].data()) == values[i]);
  }
}
}  // namespace

TEST_CASE("a grouped job's values sort by their encoded bytes as by their value") {
  check_ordered_encoding<std::uint64_t>({0, 1, 255, 256, 1ull << 40, ~0ull, 7});
  check_ordered_encoding<std::int32_t>({0, -1, 1, -2147483647 - 1, 2147483647, -300, 300});
  check_ordered_encoding<double>({0.0, -0.5, 0.5, -1e300, 1e300, 3.25, -3.25, 1e-300});
  check_ordered_encoding<std::uint8_t>({0, 200, 7, 255});
}
