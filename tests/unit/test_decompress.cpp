// Compressed inputs: gzip, zstd, bzip2 and xz files read as the text they
// hold, by words, lines, whole and piece by piece; damaged files are errors
// naming the file. The files are made here with each library's own compressor.
#include <bzlib.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <lzma.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include "gridmr/detail/text_reader.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/map/decompress.hpp"
#include "gridmr/map/stream_starts.hpp"
#include "gridmr/runtime/spare_cores.hpp"
#include "temp_dir.hpp"

using gridmr::TextReader;
using gridmr::WorkUnit;

namespace {

// `text` deflated by zlib: with a gzip wrapper (window_bits 16 + MAX_WBITS),
// or raw (-MAX_WBITS).
std::string deflated(const std::string& text, int window_bits) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
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

// One gzip member holding `text`.
std::string gzip_member(const std::string& text) { return deflated(text, 16 + MAX_WBITS); }

// A BGZF member (bgzip's layout): raw deflate in a gzip member whose `BC`
// extra field holds the member's size less one.
std::string bgzf_member(const std::string& text) {
  const std::string data = deflated(text, -MAX_WBITS);
  const auto le = [](std::uint32_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
  };
  const std::size_t size = 18 + data.size() + 8;
  REQUIRE(size <= 65536);
  const auto crc = static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  return std::string("\x1f\x8b\x08\x04\0\0\0\0\0\xff\x06\0BC\x02\0", 16) +
         le(static_cast<std::uint32_t>(size - 1), 2) + data + le(crc, 4) +
         le(static_cast<std::uint32_t>(text.size()), 4);
}

std::string zstd_frame(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const std::size_t size = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  REQUIRE(!ZSTD_isError(size));
  out.resize(size);
  return out;
}

// Level 1 makes blocks of 100 kB of text, 9 of 900 kB.
std::string bzip2_stream(const std::string& text, int level = 9) {
  std::string out(text.size() + text.size() / 100 + 700, '\0');
  auto size = static_cast<unsigned>(out.size());
  REQUIRE(BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(text.data()),
                                   static_cast<unsigned>(text.size()), level, 0, 0) == BZ_OK);
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

// xz of blocks of `block_size` bytes of text, as `xz -T0` writes them.
std::string xz_blocks_of(const std::string& text, std::uint64_t block_size,
                         lzma_check check = LZMA_CHECK_CRC64) {
  lzma_mt mt{};
  mt.threads = 1;
  mt.block_size = block_size;
  mt.preset = 6;
  mt.check = check;
  lzma_stream xz = LZMA_STREAM_INIT;
  REQUIRE(lzma_stream_encoder_mt(&xz, &mt) == LZMA_OK);
  std::string out(lzma_stream_buffer_bound(text.size()) + (text.size() / block_size + 1) * 64,
                  '\0');
  xz.next_in = reinterpret_cast<const std::uint8_t*>(text.data());
  xz.avail_in = text.size();
  xz.next_out = reinterpret_cast<std::uint8_t*>(out.data());
  xz.avail_out = out.size();
  lzma_ret status = LZMA_OK;
  while (status == LZMA_OK) status = lzma_code(&xz, LZMA_FINISH);
  REQUIRE(status == LZMA_STREAM_END);
  out.resize(xz.total_out);
  lzma_end(&xz);
  return out;
}

// Text with words, long words (one piece in `long_every` on average), bytes >=
// 0x80, blank and long lines: `bytes` of it.
std::string sample_text(std::size_t bytes, unsigned seed, unsigned long_every = 500) {
  std::mt19937 rng(seed);
  const std::vector<std::string> pieces = {
      "And ", "the ", "LORD ", "said\n", "\n", "caf\xc3\xa9 ", "x", "42, ", "--- ", "\t", "wORd "};
  std::string text;
  while (text.size() < bytes) {
    if (rng() % long_every == 0) text.append(70000, 'q');  // a word longer than any chunk
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
}

TEST_CASE("a BGZF, bzip2, multi-frame zstd or xz file cut anywhere reads each record once") {
  TempDir dir;
  // Long words are rarer here, so that 100 kB bzip2 blocks hold little more text.
  const std::string text = sample_text(1000000, 11, 40000);
  const std::string plain = dir.write("plain.txt", text);
  // Streams cut at random points (inside words and lines), right after a
  // newline, and empty ones; the 70,000-byte words span several streams.
  std::mt19937 rng(5);
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t size = rng() % 24000;
    if (rng() % 4 == 0) {
      const std::size_t newline = text.find('\n', at + size);
      size = newline == std::string::npos ? size : newline + 1 - at;
    }
    if (rng() % 10 == 0) size = 0;
    size = std::min({size, text.size() - at, std::size_t{60000}});
    pieces.push_back(text.substr(at, size));
    at += size;
  }
  const auto joined = [&](auto stream, const std::string& between) {
    std::string out;
    for (const std::string& piece : pieces) out += stream(piece) + between;
    return out;
  };
  std::string skippable("\x50\x2a\x4d\x18\x04\0\0\0\x01\x02\x03\x04", 12);
  // A plain gzip member inside a BGZF file: its start cannot be found, so the
  // unit whose member comes before it reads it.
  std::string mixed;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    mixed += i == pieces.size() / 2 ? gzip_member(pieces[i]) : bgzf_member(pieces[i]);
  }
  // And a text that ends with a newline, then empty members: no line after it.
  const std::string ended = joined(bgzf_member, "") + bgzf_member("\n") + bgzf_member("") +
                            bgzf_member("") + bgzf_member("");
  const std::vector<std::pair<std::string, std::string>> files = {
      {dir.write("bgzf.gz", joined(bgzf_member, "") + bgzf_member("")), text},
      {dir.write("ended.gz", ended), text + "\n"},
      {dir.write("mixed.gz", mixed), text},
      {dir.write("multi.bz2", joined([](const std::string& t) { return bzip2_stream(t); }, "")),
       text},
      // One stream of blocks at bits that are not byte-aligned; streams of
      // several blocks, with an empty stream between them.
      {dir.write("single.bz2", bzip2_stream(text, 1)), text},
      {dir.write("blocks.bz2", bzip2_stream(text.substr(0, 450001), 1) + bzip2_stream("", 1) +
                                   bzip2_stream(text.substr(450001), 2)),
       text},
      {dir.write("multi.zst", joined(zstd_frame, "")), text},
      {dir.write("pzstd.zst", skippable + joined(zstd_frame, skippable)), text},
      // xz blocks, and xz streams joined: of blocks (CRC64 and CRC32 checks),
      // one of one block, one empty, with stream padding between them.
      {dir.write("blocks.xz", xz_blocks_of(text, 60000)), text},
      {dir.write("joined.xz", xz_blocks_of(text.substr(0, 300001), 45000) +
                                  xz_stream(text.substr(300001, 100000)) + xz_stream("") +
                                  std::string(8, '\0') +
                                  xz_blocks_of(text.substr(400001), 70000, LZMA_CHECK_CRC32)),
       text},
  };
  TextReader plain_reader(1 << 12);
  const WorkUnit whole_plain{0, 0, text.size()};
  const auto want_words = words_of(plain_reader, plain, whole_plain);
  const auto want_lines = lines_of(plain_reader, plain, whole_plain);
  for (const auto& [file, want_text] : files) {
    const std::uint64_t size = std::filesystem::file_size(file);
    for (const std::uint64_t unit_size : {std::uint64_t{31}, std::uint64_t{97}, std::uint64_t{4096},
                                          std::uint64_t{50000}, size - 1, size}) {
      CAPTURE(file);
      CAPTURE(unit_size);
      TextReader reader(unit_size % 2 == 0 ? 1 << 12 : 64);
      std::vector<std::string> words, lines;
      std::string through;
      std::size_t reading = 0;  // units that give text
      for (std::uint64_t begin = 0; begin < size; begin += unit_size) {
        const WorkUnit unit{0, begin, std::min(size, begin + unit_size)};
        for (std::string& w : words_of(reader, file, unit)) words.push_back(std::move(w));
        for (std::string& l : lines_of(reader, file, unit)) lines.push_back(std::move(l));
        const std::size_t before = through.size();
        reader.read_through(file, unit, [&](std::string_view bytes) { through += bytes; });
        reading += through.size() > before;
      }
      CHECK(words == want_words);
      CHECK(lines == want_lines);
      CHECK(through == want_text);
      // Really cut: several units read text (a file read whole by its first
      // unit would pass the checks above).
      if (unit_size <= 4096) CHECK(reading >= 3);
    }
    // A first unit smaller than the headers before the first stream or block.
    for (std::uint64_t cut = 1; cut <= 20; ++cut) {
      CAPTURE(file);
      CAPTURE(cut);
      TextReader reader(1 << 12);
      std::string through;
      for (const WorkUnit unit : {WorkUnit{0, 0, cut}, WorkUnit{0, cut, size}}) {
        reader.read_through(file, unit, [&](std::string_view bytes) { through += bytes; });
      }
      CHECK(through == want_text);
    }
  }
  // gzip that is not BGZF: a unit that starts past the first byte finds no
  // stream start, so the first unit reads the whole text.
  for (const auto& [name, bytes] :
       {std::pair{"plain.gz", gzip_member(text)},
        std::pair{"cat.gz", gzip_member(pieces[0]) + gzip_member(text)}}) {
    CAPTURE(name);
    const std::string path = dir.write(name, bytes);
    TextReader reader(1 << 12);
    CHECK(words_of(reader, path, WorkUnit{0, 10, bytes.size()}).empty());
    CHECK(reader.read_all(path, WorkUnit{0, 0, bytes.size()}).size() ==
          text.size() + (name == std::string("cat.gz") ? pieces[0].size() : 0));
  }
}

TEST_CASE("a bzip2 or xz file read in units reports damage as a whole one does") {
  TempDir dir;
  const std::string text = sample_text(600000, 9, 40000), bz2 = bzip2_stream(text, 1),
                    xz = xz_blocks_of(text, 50000);
  const auto fails = [&](const std::string& name, const std::string& bytes, const char* why) {
    const std::string path = dir.write(name, bytes);
    CAPTURE(name);
    TextReader reader(1 << 12);
    const auto read_units = [&] {
      std::size_t words = 0;
      for (std::uint64_t begin = 0; begin < bytes.size(); begin += bytes.size() / 5) {
        const WorkUnit unit{0, begin,
                            std::min<std::uint64_t>(bytes.size(), begin + bytes.size() / 5)};
        words += words_of(reader, path, unit).size();
      }
      return words;
    };
    const std::string format = name.ends_with(".xz") ? "xz" : "bzip2";
    CHECK_THROWS_WITH_AS(
        read_units(),
        doctest::Contains(("cannot decompress '" + path + "' (" + format + "): " + why).c_str()),
        gridmr::RunError);
  };
  for (const std::size_t keep : {bz2.size() / 2, bz2.size() - 11, bz2.size() - 1}) {
    fails("cut.bz2", bz2.substr(0, keep), "the file ends inside compressed data");
  }
  std::string flipped = bz2, crc = bz2;
  flipped[bz2.size() / 2] ^= 0x20;  // inside a block
  crc[11] ^= 0x01;                  // the first block's stored CRC
  fails("flipped.bz2", flipped, "damaged data");
  fails("crc.bz2", crc, "damaged data");
  fails("after.bz2", bz2 + "BZh9 and then text", "data after the last stream is not bzip2");
  // xz: its indexes are read from the end, so a cut file has none to read.
  for (const std::size_t keep : {xz.size() / 2, xz.size() - 1}) {
    fails("cut.xz", xz.substr(0, keep), "its index cannot be read");
  }
  std::string xz_flipped = xz;
  xz_flipped[xz.size() / 2] ^= 0x20;  // inside a block
  fails("flipped.xz", xz_flipped, "damaged data");
}

TEST_CASE("only files whose streams can be found are cut by the plan") {
  TempDir dir;
  const std::string text = sample_text(300000, 3), half = text.substr(0, 150000);
  const auto splittable = [&](const std::string& name, const std::string& bytes) {
    const std::string path = dir.write(name, bytes);
    return gridmr::splittable_compressed(path, gridmr::compression_of(path));
  };
  CHECK(splittable("a.gz", bgzf_member(half) + bgzf_member(text.substr(150000))));
  CHECK(splittable("b.bz2", bzip2_stream(half) + bzip2_stream(half)));
  CHECK(splittable("c.zst", zstd_frame(half) + zstd_frame(half)));
  CHECK_FALSE(splittable("d.gz", gzip_member(half) + gzip_member(half)));  // pigz, cat
  CHECK_FALSE(splittable("e.gz", bgzf_member(half)));                      // one member
  CHECK(splittable("f.bz2", bzip2_stream(text)));                          // cut between its blocks
  CHECK_FALSE(splittable("g.zst", zstd_frame(text)));
  CHECK(splittable("h.xz", xz_stream(half) + xz_stream(half)));  // two blocks
  CHECK(splittable("k.xz", xz_blocks_of(text, 100000)));
  CHECK_FALSE(splittable("l.xz", xz_stream(text)));                  // one block
  CHECK_FALSE(splittable("m.xz", xz_stream(text).substr(0, 5000)));  // no index
  CHECK_FALSE(splittable("i.gz", ""));
  CHECK_FALSE(splittable("j.bz2", text));  // text named .bz2: reading it reports that
}

namespace {

// A file open for the scope of a test's Decompressor.
struct OpenFd {
  explicit OpenFd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY)) {
    REQUIRE(fd >= 0);
  }
  ~OpenFd() { ::close(fd); }
  int fd;
};

// What a Decompressor gives in reads of `want` bytes: the text to its first
// stop, then (past it) the rest; in `error` the message that ended it, if any.
struct Reading {
  std::string to_stop, after_stop, error;
  bool stopped = false;
  bool operator==(const Reading&) const = default;
};

Reading read_whole(gridmr::Decompressor& decompressor, std::size_t want) {
  Reading reading;
  std::string buffer(want, '\0');
  std::string* text = &reading.to_stop;
  try {
    for (;;) {
      const std::size_t got = decompressor.read(buffer.data(), want);
      text->append(buffer.data(), got);
      if (got > 0) continue;
      if (text != &reading.to_stop || !decompressor.pass_stop()) break;
      reading.stopped = true;
      text = &reading.after_stop;
    }
  } catch (const gridmr::RunError& error) {
    reading.error = error.what();
  }
  return reading;
}

}  // namespace

TEST_CASE(
    "a decompressor decoding ahead on a spare core gives the text, stops and errors it "
    "gives alone") {
  using gridmr::Compression;
  using gridmr::Decompressor;
  using gridmr::SpareCores;
  TempDir dir;
  const std::string text = sample_text(3000000, 21, 40000);
  // gzip members cut at random points, for stops between them.
  std::mt19937 rng(8);
  std::string members;
  std::vector<std::uint64_t> starts;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t size = std::min<std::size_t>(text.size() - at, rng() % 400000);
    starts.push_back(members.size());
    members += gzip_member(text.substr(at, size));
    at += size;
  }
  const std::vector<std::pair<std::string, Compression>> files = {
      {dir.write("one.gz", gzip_member(text)), Compression::kGzip},
      {dir.write("members.gz", members), Compression::kGzip},
      {dir.write("one.zst", zstd_frame(text)), Compression::kZstd},
      {dir.write("one.bz2", bzip2_stream(text, 1)), Compression::kBzip2},
      {dir.write("one.xz", xz_stream(text)), Compression::kXz},
  };
  const auto reading = [](const std::string& path, Compression format, std::uint64_t ahead_after,
                          std::size_t want, std::uint64_t stop = UINT64_MAX) {
    const OpenFd file(path);
    Decompressor decompressor(file.fd, format, path);
    if (stop != UINT64_MAX) decompressor.stop_at(stop, [](std::uint64_t) { return true; });
    decompressor.decode_ahead_after(ahead_after);
    return read_whole(decompressor, want);
  };

  SUBCASE("every format, from any point, in reads of any size") {
    for (const auto& [path, format] : files) {
      for (const std::uint64_t after : {0, 1, 700001}) {
        for (const std::size_t want : {std::size_t{7}, std::size_t{4096}, std::size_t{100003},
                                       std::size_t{1} << 18, std::size_t{3} << 20}) {
          CAPTURE(path);
          CAPTURE(after);
          CAPTURE(want);
          SpareCores::clear();
          SpareCores::lend();
          const Reading got = reading(path, format, after, want);
          CHECK(got.error == "");
          CHECK(got.to_stop == text);
          CHECK(SpareCores::borrow());  // given back
          CHECK_FALSE(SpareCores::borrow());
        }
      }
    }
  }
  SUBCASE("stops where a stream ends past the unit, reads on past the stop by itself") {
    const std::string& path = files[1].first;
    for (const std::uint64_t stop :
         {starts[1] - 1, starts[starts.size() / 2] + 5, starts[starts.size() - 2] + 1}) {
      CAPTURE(stop);
      SpareCores::clear();
      const Reading alone = reading(path, Compression::kGzip, UINT64_MAX, 65536, stop);
      CHECK(alone.stopped);
      CHECK(alone.to_stop.size() < text.size());
      CHECK(alone.to_stop + alone.after_stop == text);
      for (const std::uint64_t after : {0, 1, 1000000}) {
        for (const std::size_t want : {std::size_t{4096}, std::size_t{1} << 18}) {
          SpareCores::clear();
          SpareCores::lend();
          CHECK(reading(path, Compression::kGzip, after, want, stop) == alone);
        }
      }
      // Past the stop (a unit's last record) it decodes alone: the core is spare again.
      SpareCores::clear();
      SpareCores::lend();
      const OpenFd file(path);
      Decompressor decompressor(file.fd, Compression::kGzip, path);
      decompressor.stop_at(stop, [](std::uint64_t) { return true; });
      decompressor.decode_ahead_after(0);
      std::string buffer(65536, '\0');
      while (decompressor.read(buffer.data(), buffer.size()) > 0) {
      }
      REQUIRE(decompressor.pass_stop());
      CHECK(decompressor.read(buffer.data(), 100) == 100);
      CHECK(SpareCores::borrow());
    }
  }
  SUBCASE("one spare core: the second decompressor decodes alone until the first gives it back") {
    SpareCores::clear();
    SpareCores::lend();
    const OpenFd a_file(files[0].first), b_file(files[2].first);
    Decompressor a(a_file.fd, Compression::kGzip, files[0].first);
    Decompressor b(b_file.fd, Compression::kZstd, files[2].first);
    a.decode_ahead_after(0);
    b.decode_ahead_after(0);
    std::string a_text(10, '\0'), b_text(10, '\0');
    CHECK(a.read(a_text.data(), 10) == 10);
    CHECK(b.read(b_text.data(), 10) == 10);
    CHECK_FALSE(SpareCores::borrow());  // a holds it
    a_text += read_whole(a, 65536).to_stop;
    std::string more(5, '\0');
    CHECK(b.read(more.data(), 5) == 5);  // b takes the core a gave back
    b_text += more;
    CHECK_FALSE(SpareCores::borrow());
    b_text += read_whole(b, 65536).to_stop;
    CHECK(a_text == text);
    CHECK(b_text == text);
    CHECK(SpareCores::borrow());
    CHECK_FALSE(SpareCores::borrow());
  }
  SUBCASE("left part-read, its thread ends and the core comes back") {
    for (const auto& [path, format] : files) {
      SpareCores::clear();
      SpareCores::lend();
      {
        const OpenFd file(path);
        Decompressor decompressor(file.fd, format, path);
        decompressor.decode_ahead_after(0);
        char byte = 0;
        CHECK(decompressor.read(&byte, 1) == 1);
        CHECK(byte == text[0]);
      }
      CHECK(SpareCores::borrow());
    }
  }
  SUBCASE("damage is the error it is alone, after the same text") {
    const std::string gz = gzip_member(text), bz2 = bzip2_stream(text, 1), xz = xz_stream(text);
    std::string crc = gz;
    crc[gz.size() - 6] ^= 0x20;
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"cut.gz", gz.substr(0, gz.size() * 2 / 3)},
             {"crc.gz", crc},
             {"cut.bz2", bz2.substr(0, bz2.size() * 2 / 3)},
             {"cut.xz", xz.substr(0, xz.size() * 2 / 3)}}) {
      CAPTURE(name);
      const std::string path = dir.write(name, bytes);
      const Compression format = gridmr::compression_of(path);
      SpareCores::clear();
      const Reading alone = reading(path, format, UINT64_MAX, 1 << 18);
      CHECK(alone.error.find("cannot decompress '" + path + "'") != std::string::npos);
      for (const std::uint64_t after : {0, 1 << 20}) {
        SpareCores::clear();
        SpareCores::lend();
        const Reading ahead = reading(path, format, after, 1 << 18);
        CHECK(ahead.error == alone.error);
        CHECK(ahead.to_stop == alone.to_stop);
        CHECK(SpareCores::borrow());
      }
    }
  }
  SpareCores::clear();
}
