// Partitioning, the record format, and the shuffle's round limits.
#include <doctest/doctest.h>
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gridmr/detail/records.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/reduce/reduce.hpp"
#include "gridmr/shuffle/partitioner.hpp"
#include "gridmr/shuffle/shuffle.hpp"

using gridmr::RangePartitioner;

TEST_CASE("records survive serialization, including empty and binary keys") {
  std::vector<char> buffer;
  const std::vector<std::pair<std::string, std::uint64_t>> pairs{
      {"alpha", 1}, {"", 0}, {std::string("\0\xff\x80", 3), ~0ull}, {std::string(5000, 'x'), 42}};
  for (const auto& [k, v] : pairs) gridmr::append_record(buffer, k, &v, sizeof v);
  std::vector<std::pair<std::string, std::uint64_t>> back;
  gridmr::for_each_record(buffer.data(), buffer.size(), 8,
                          [&](std::string_view k, const char* bytes) {
                            std::uint64_t v;
                            std::memcpy(&v, bytes, sizeof v);
                            back.emplace_back(std::string(k), v);
                          });
  CHECK(back == pairs);
  CHECK_THROWS_AS(gridmr::for_each_record(buffer.data(), buffer.size() - 1, 8, [](auto, auto) {}),
                  gridmr::RunError);
}

TEST_CASE("range partitioning keeps keys in byte order across ranks") {
  const RangePartitioner p(
      gridmr::choose_splitters({"m", "c", "x", "c", "\xC3\xA9", "a", "q", "z", "f", "t", "k"}, 4));
  CHECK(p.parts() == 4);
  std::vector<std::string> keys{"",   "a", "b", "c",  "cz",   "f",        "k",
                                "mm", "q", "x", "zz", "\x7f", "\xC3\xA9", "\xff\xff"};
  std::sort(keys.begin(), keys.end());
  int previous = 0;
  for (const auto& k : keys) {
    const int owner = p.owner(k);
    CHECK(owner >= previous);
    CHECK(owner < 4);
    previous = owner;
  }
  const RangePartitioner z({"z"});
  CHECK(z.owner("\xC3\xA9") == 1);  // bytes >= 0x80 sort after ASCII
  CHECK(z.owner("y") == 0);
}

TEST_CASE("splitters from no keys at all still give every rank a valid owner") {
  const RangePartitioner p(gridmr::choose_splitters({}, 3));
  CHECK(p.parts() == 3);
  CHECK(p.owner("anything") == 2);
  CHECK(RangePartitioner(gridmr::choose_splitters({"x"}, 1)).owner("y") == 0);
}

TEST_CASE("a shuffle round never lets a count or displacement reach INT_MAX") {
  for (int ranks : {1, 2, 3, 64, 1000}) {
    for (std::uint64_t memory : {1ull, 1024ull, 1ull << 30, 64ull << 30, ~0ull}) {
      CAPTURE(ranks);
      CAPTURE(memory);
      const std::uint64_t cap = gridmr::per_peer_round_bytes(memory, ranks);
      CHECK(cap >= 64);
      CHECK(cap * ranks <= static_cast<std::uint64_t>(INT_MAX));
      if (memory >= 128ull * ranks) CHECK(2 * cap * ranks <= memory);
    }
  }
}

TEST_CASE("one rank shuffles every pair to itself, in many rounds with a tiny budget") {
  std::vector<gridmr::KeyTable<std::uint64_t>> tables(2);
  auto add = [](std::uint64_t a, std::uint64_t b) { return a + b; };
  for (int i = 0; i < 500; ++i) {
    tables[i % 2].upsert("key" + std::to_string(i % 300), 1, add);
  }
  const RangePartitioner p(gridmr::choose_splitters({}, 1));
  gridmr::KeyTable<std::uint64_t> merged;
  const std::vector<gridmr::TableView> views{tables[0].view(), tables[1].view()};
  const auto stats =
      gridmr::shuffle(MPI_COMM_WORLD, {views, {}}, 8, {}, p, 256, [&](const char* d, std::size_t n) {
        gridmr::for_each_record(d, n, 8, [&](std::string_view k, const char* bytes) {
          std::uint64_t v;
          std::memcpy(&v, bytes, sizeof v);
          merged.upsert(k, v, add);
        });
      });
  CHECK(stats.rounds > 10);
  CHECK(merged.size() == 300);
  std::uint64_t total = 0;
  for (const auto& entry : merged) total += entry.value();
  CHECK(total == 500);
  CHECK(*merged.find("key7") == 2);
  CHECK(*merged.find("key299") == 1);
}

TEST_CASE("sorting by the 8-byte prefix first gives byte order") {
  std::mt19937_64 pick(13);
  std::vector<std::string> keys = {"",       "a",        "ab",        std::string("ab\0", 3),
                                   "ab\x01", "abcdefgh", "abcdefghi", std::string("abcdefgh\0", 9),
                                   "\xff",   "\x80z"};
  for (int i = 0; i < 5000; ++i) {
    std::string key(pick() % 12, '\0');
    for (auto& c : key) c = "a\0\x7f\x80\xff"[pick() % 5];
    keys.push_back(key);
  }
  auto by_prefix = keys;
  std::sort(by_prefix.begin(), by_prefix.end(), [](const std::string& a, const std::string& b) {
    const auto pa = gridmr::order_prefix(a), pb = gridmr::order_prefix(b);
    return pa != pb ? pa < pb : std::string_view(a) < std::string_view(b);
  });
  std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  });
  CHECK(by_prefix == keys);
}

TEST_CASE("sort_by_key: byte order of (key part, rest) for every layout") {
  // Keys of 0-40 bytes (around the 8- and 16-byte words the sort compares
  // first) of bytes that stress the order: 0x00, 0x01, 'a', 0x7f, 0x80, 0xff.
  std::mt19937_64 pick(29);
  const auto random_bytes = [&pick](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = "\0\1a\x7f\x80\xff"[pick() % 6];
    return s;
  };
  const auto bytewise = [](std::string_view a, std::string_view b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  };
  for (const gridmr::KeyLayout layout :
       {gridmr::KeyLayout{}, gridmr::KeyLayout{.prefix = 8}, gridmr::KeyLayout{.terminated = true},
        gridmr::KeyLayout{.suffix = 1}, gridmr::KeyLayout{.suffix = 8}}) {
    CAPTURE(layout.suffix);
    CAPTURE(layout.prefix);
    CAPTURE(layout.terminated);
    gridmr::KeyTable<std::uint64_t> table;
    const auto add = [](std::uint64_t a, std::uint64_t b) { return a + b; };
    std::vector<std::string> keys, pool;
    for (int i = 0; i < 60; ++i) pool.push_back(random_bytes(pick() % 24));
    for (int i = 0; i < 20000; ++i) {
      std::string key;
      if (layout.terminated) {  // one of 60 escaped keys, then a value
        gridmr::escape_key(pool[pick() % pool.size()], key);
        key += random_bytes(pick() % 20);
      } else if (layout.prefix > 0) {
        key = random_bytes(8) + random_bytes(pick() % 30);
      } else {
        key = random_bytes(pick() % 41 + layout.suffix);
        if (i % 3 == 0 && !keys.empty()) {  // a key part shared with an earlier key
          const std::string& other = keys[pick() % keys.size()];
          key = other.substr(0, other.size() - layout.suffix) + random_bytes(layout.suffix);
        }
      }
      if (table.find(key) == nullptr) keys.push_back(key);
      table.upsert(key, 1, add);
    }
    const gridmr::SortedResult sorted = gridmr::sort_by_key(table.view(), layout);
    std::sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
      const std::string_view pa = layout.part(a), pb = layout.part(b);
      if (pa != pb) return bytewise(pa, pb);
      return bytewise(std::string_view(a).substr(pa.size()), std::string_view(b).substr(pb.size()));
    });
    REQUIRE(sorted.keys.size() == keys.size());
    bool same = true;
    for (std::size_t i = 0; i < keys.size(); ++i) same = same && sorted.keys[i] == keys[i];
    CHECK(same);
  }
}

TEST_CASE("huge keys are sampled as their first bytes, and still split in byte order") {
  gridmr::KeyTable<std::uint64_t> table;
  auto add = [](std::uint64_t a, std::uint64_t b) { return a + b; };
  std::vector<std::string> keys;
  for (char c = 'a'; c <= 'v'; ++c) keys.push_back(std::string(1 << 20, c) + "tail");  // 22 keys of 1 MiB
  for (const auto& k : keys) table.upsert(k, 1, add);
  const std::vector<gridmr::TableView> views{table.view()};
  const auto sample = gridmr::sample_keys(views, 64);
  REQUIRE(sample.size() == keys.size());
  for (const auto& s : sample) CHECK(s.size() == gridmr::kMaxSampledKey);
  const RangePartitioner p(gridmr::choose_splitters(sample, 4));
  int last = 0;
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) {  // owners never go down along byte order: ranges stay contiguous
    CHECK(p.owner(k) >= last);
    last = p.owner(k);
  }
  CHECK(last == 3);
}
