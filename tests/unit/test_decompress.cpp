// Compressed inputs: gzip, zstd, bzip2 and xz files read as the text they
// hold, by words, lines, whole and piece by piece; damaged files are errors
// naming the file. The files are made here with each library's own compressor.
#include <bzlib.h>
#include <doctest/doctest.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include "gridmr/detail/text_reader.hpp"
#include "gridmr/errors.hpp"
#include "temp_dir.hpp"

using gridmr::TextReader;
using gridmr::WorkUnit;

namespace {

// One gzip member holding `text` (zlib's deflate with a gzip wrapper).
std::string gzip_member(const std::string& text) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd_frame(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const std::size_t size = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  REQUIRE(!ZSTD_isError(size));
  out.resize(size);
  return out;
}

std::string bzip2_stream(const std::string& text) {
  std::string out(text.size() + text.size() / 100 + 700, '\0');
  auto size = static_cast<unsigned>(out.size());
  REQUIRE(BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(text.data()),
                                   static_cast<unsigned>(text.size()), 9, 0, 0) == BZ_OK);
  out.resize(size);
  return out;
}

std::string xz_stream(const std::string& text) {
  std::string out(lzma_stream_buffer_bound(text.size()), '\0');
  std::size_t size = 0;
  REQUIRE(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr,
                                  reinterpret_cast<const std::uint8_t*>(text.data()), text.size(),
                                  reinterpret_cast<std::uint8_t*>(out.data()), &size,
                                  out.size()) == LZMA_OK);
  out.resize(size);
  return out;
}

// Text with words, long words, bytes >= 0x80, blank and long lines: `bytes` of it.
std::string sample_text(std::size_t bytes, unsigned seed) {
  std::mt19937 rng(seed);
  const std::vector<std::string> pieces = {
      "And ", "the ", "LORD ", "said\n", "\n", "caf\xc3\xa9 ", "x", "42, ", "--- ", "\t", "wORd "};
  std::string text;
  while (text.size() < bytes) {
    if (rng() % 500 == 0) text.append(70000, 'q');  // a word longer than any chunk
    text += pieces[rng() % pieces.size()];
  }
  text.resize(bytes);
  return text;
}

std::vector<std::string> words_of(TextReader& reader, const std::string& path, WorkUnit unit) {
  std::vector<std::string> words;
  reader.for_each_word(path, unit, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

std::vector<std::string> lines_of(TextReader& reader, const std::string& path, WorkUnit unit) {
  std::vector<std::string> lines;
  reader.for_each_line(path, unit, [&](std::string_view l) { lines.emplace_back(l); });
  return lines;
}

}  // namespace

TEST_CASE(
    "a .gz, .zst, .bz2 or .xz file reads as the text it holds: words, lines, whole, in pieces") {
  TempDir dir;
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{5000},
                                 std::size_t{300000}, std::size_t{1100000}}) {
    const std::string text = sample_text(size, static_cast<unsigned>(size));
    const std::string plain = dir.write("plain.txt", text);
    // Several gzip members and zstd frames, as `cat a.gz b.gz` and pigz write them.
    const std::string third = text.substr(0, size / 3), rest = text.substr(size / 3);
    const std::vector<std::string> files = {
        dir.write("one.gz", gzip_member(text)),
        dir.write("two.gz", gzip_member(third) + gzip_member("") + gzip_member(rest)),
        dir.write("one.zst", zstd_frame(text)),
        dir.write("two.zst", zstd_frame(third) + zstd_frame(rest)),
        dir.write("one.bz2", bzip2_stream(text)),
        dir.write("two.bz2", bzip2_stream(third) + bzip2_stream(rest)),
        dir.write("one.xz", xz_stream(text)),
        dir.write("two.xz", xz_stream(third) + xz_stream(rest)),
    };
    for (const std::size_t chunk : {std::size_t{64}, std::size_t{1} << 16}) {
      TextReader reader(chunk), plain_reader(chunk);
      const WorkUnit whole_plain{0, 0, size};
      const auto want_words = words_of(plain_reader, plain, whole_plain);
      const auto want_lines = lines_of(plain_reader, plain, whole_plain);
      for (const std::string& file : files) {
        CAPTURE(file);
        CAPTURE(size);
        CAPTURE(chunk);
        CHECK(TextReader::compressed(file));
        // The plan's unit for a compressed file: [0, its size on disk).
        const WorkUnit unit{0, 0, std::filesystem::file_size(file)};
        CHECK(words_of(reader, file, unit) == want_words);
        CHECK(lines_of(reader, file, unit) == want_lines);
        CHECK(reader.read_all(file, unit) == text);
        std::string pieces;
        reader.read_through(file, unit, [&](std::string_view bytes) { pieces += bytes; });
        CHECK(pieces == text);
      }
    }
  }
  CHECK_FALSE(TextReader::compressed("a.txt"));
  CHECK_FALSE(TextReader::compressed("a.bz"));
  CHECK_FALSE(TextReader::compressed("a.gz.txt"));
  CHECK_FALSE(TextReader::compressed("gz"));
}

TEST_CASE("a damaged compressed file is an error naming it, never a short text") {
  TempDir dir;
  const std::string text = sample_text(200000, 7);
  const std::string gz = gzip_member(text), zst = zstd_frame(text), bz2 = bzip2_stream(text),
                    xz = xz_stream(text);
  TextReader reader(1 << 12);
  const auto fails = [&](const std::string& name, const std::string& bytes, const char* why) {
    const std::string path = dir.write(name, bytes);
    const WorkUnit unit{0, 0, bytes.size()};
    CAPTURE(name);
    CAPTURE(bytes.size());
    CHECK_THROWS_WITH_AS(words_of(reader, path, unit),
                         doctest::Contains(("cannot decompress '" + path + "'").c_str()),
                         gridmr::RunError);
    CHECK_THROWS_WITH_AS(lines_of(reader, path, unit), doctest::Contains(why), gridmr::RunError);
    CHECK_THROWS_AS(reader.read_all(path, unit), gridmr::RunError);
  };
  // Cut anywhere: inside the header, the data or the trailer (its length and CRC).
  for (const std::size_t keep : {std::size_t{1}, std::size_t{9}, gz.size() / 2, gz.size() - 1}) {
    fails("cut.gz", gz.substr(0, keep), "cut short");
  }
  for (const std::size_t keep : {std::size_t{3}, zst.size() / 2, zst.size() - 1}) {
    fails("cut.zst", zst.substr(0, keep), "cut short");
  }
  for (const std::size_t keep : {std::size_t{2}, bz2.size() / 2, bz2.size() - 1}) {
    fails("cut.bz2", bz2.substr(0, keep), "cut short");
  }
  for (const std::size_t keep : {std::size_t{4}, xz.size() / 2, xz.size() - 1}) {
    fails("cut.xz", xz.substr(0, keep), "cut short");
  }
  fails("text.gz", text, "(gzip)");
  fails("text.zst", text, "(zstd)");
  fails("text.bz2", text, "(bzip2): not bzip2 data");
  fails("text.xz", text, "(xz): not xz data");
  std::string bz2_flipped = bz2, xz_flipped = xz;
  bz2_flipped[bz2.size() / 2] ^= 0x20;
  xz_flipped[xz.size() / 2] ^= 0x20;
  fails("flipped.bz2", bz2_flipped, "(bzip2)");
  fails("flipped.xz", xz_flipped, "(xz)");
  std::string flipped = gz;
  flipped[gz.size() - 6] ^= 0x20;  // the CRC no longer matches the text
  fails("crc.gz", flipped, "(gzip)");
  fails("after.gz", gz + "not gzip", "(gzip)");
  // A unit that starts inside a compressed file cannot be read: one unit per file.
  const std::string path = dir.write("whole.gz", gz);
  CHECK_THROWS_WITH_AS(words_of(reader, path, WorkUnit{0, 10, gz.size()}),
                       doctest::Contains("is compressed and cannot be read from byte 10"),
                       gridmr::RunError);
}
