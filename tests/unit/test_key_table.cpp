// The combining table and its key hashing: exact counts, growth, and no reads past a key.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/runtime_for.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/map/tokenizer.hpp"
#include "simd_targets.hpp"

namespace {
auto add = [](std::uint64_t a, std::uint64_t b) { return a + b; };

// `pages` writable pages followed by one that may not be read: a key placed
// to end at end() faults on any read past it.
class GuardedPage {
 public:
  explicit GuardedPage(std::size_t pages = 1) : pages_(pages) {
    area_ = static_cast<char*>(::mmap(nullptr, (pages_ + 1) * page_, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(area_ != MAP_FAILED);
    REQUIRE(::mprotect(area_ + pages_ * page_, page_, PROT_NONE) == 0);
  }
  ~GuardedPage() { ::munmap(area_, (pages_ + 1) * page_); }
  GuardedPage(const GuardedPage&) = delete;
  GuardedPage& operator=(const GuardedPage&) = delete;
  char* end() const { return area_ + pages_ * page_; }
  std::size_t size() const { return pages_ * page_; }

 private:
  std::size_t pages_;
  std::size_t page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  char* area_ = nullptr;
};
}  // namespace

TEST_CASE("the table combines values exactly, through many resizes, like std::map") {
  gridmr::KeyTable<std::uint64_t> table;
  std::map<std::string, std::uint64_t> reference;
  std::mt19937_64 pick(3);
  for (int i = 0; i < 200000; ++i) {
    const std::size_t length = pick() % 40;
    std::string key(length, '\0');
    for (auto& c : key)
      c = static_cast<char>("ab\x80\xff"[pick() % 4]);  // many collisions of prefixes
    const std::uint64_t value = pick() % 5;
    table.upsert(key, value, add);
    reference[key] += value;
  }
  CHECK(table.size() == reference.size());
  std::map<std::string, std::uint64_t> back;
  for (const auto& entry : table) back[std::string(entry.key())] = entry.value();
  CHECK(back == reference);
  for (const auto& [key, value] : reference) {
    const std::uint64_t* found = table.find(key);
    REQUIRE(found != nullptr);
    CHECK(*found == value);
  }
  CHECK(table.find("not there at all") == nullptr);
}

TEST_CASE("the empty key is a key like any other") {
  gridmr::KeyTable<std::uint64_t> table;
  table.upsert("", 2, add);
  table.upsert("", 3, add);
  table.upsert("x", 1, add);
  CHECK(table.size() == 2);
  REQUIRE(table.find("") != nullptr);
  CHECK(*table.find("") == 5);
}

TEST_CASE("hashing and comparing keys never reads a byte outside the key") {
  const GuardedPage guarded;  // keys end right before a page that may not be read
  char* end = guarded.end();
  for (std::size_t n = 0; n <= 100; ++n) {
    char* a = end - n;
    for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i % 26);
    const std::string copy(a, n);
    CHECK(gridmr::key_bytes::hash(a, n) == gridmr::key_bytes::hash(copy.data(), n));
    CHECK(gridmr::key_bytes::equal(a, copy.data(), n));
    CHECK(gridmr::key_bytes::equal(copy.data(), a, n));
    if (n > 0) {
      std::string other = copy;
      other[n - 1] ^= 1;
      CHECK_FALSE(gridmr::key_bytes::equal(a, other.data(), n));
      other = copy;
      other[0] ^= 1;
      CHECK_FALSE(gridmr::key_bytes::equal(a, other.data(), n));
    }
  }
}

TEST_CASE("keys that differ anywhere hash differently (no systematic collisions)") {
  std::map<std::uint64_t, std::string> seen;
  for (std::size_t n = 0; n <= 24; ++n) {
    for (std::size_t at = 0; at < std::max<std::size_t>(n, 1); ++at) {
      std::string key(n, 'q');
      if (n > 0) key[at] = 'z';
      const std::uint64_t h = gridmr::key_bytes::hash(key.data(), key.size());
      const auto [it, fresh] = seen.emplace(h, key);
      CHECK((fresh || it->second == key));
    }
  }
}

TEST_CASE("short keys that differ in one byte land in different home slots") {
  // The table takes a short key's home slot from the top bits of its hash:
  // every byte, at every position, must move them. Here: the top 16 bits,
  // with the fixed multiplier and with those tables draw from their seeds.
  std::mt19937_64 pick(17);
  std::vector<std::uint64_t> seeds = {0, 12345};
  for (int i = 0; i < 16; ++i) seeds.push_back(pick());
  for (const std::uint64_t seed : seeds) {
    const std::uint64_t multiplier = gridmr::key_bytes::high_multiplier(seed);
    CHECK(multiplier % 2 == 1);
    for (std::size_t n = 1; n <= gridmr::KeyTable<std::uint64_t>::kInlineKey; ++n) {
      for (std::size_t at = 0; at < n; ++at) {
        std::map<std::uint64_t, int> homes;
        for (int c = 0; c < 256; ++c) {
          std::string key(n, 'e');
          key[at] = static_cast<char>(c);
          const auto k = gridmr::key_bytes::short_key(key.data(), n);
          ++homes[gridmr::key_bytes::hash(k, n, seed, multiplier) >> 48];
        }
        CAPTURE(seed);
        CAPTURE(n);
        CAPTURE(at);
        CHECK(homes.size() >= 250);  // 256 values in 65536 homes: a few coincidences at most
      }
    }
  }
}

TEST_CASE(
    "the vector byte classifier agrees with the portable one on every byte value, on every "
    "target") {
  for_each_simd_target([] {
    std::mt19937_64 pick(5);
    for (std::size_t size : {1ul, 63ul, 64ul, 65ul, 1000ul, 4099ul}) {
      std::string data(size, '\0');
      for (auto& c : data) c = static_cast<char>(pick());
      for (std::size_t i = 0; i < std::min<std::size_t>(size, 256); ++i)
        data[i] = static_cast<char>(i);
      std::string a = data, b = data;
      // Stale bits in the masks (as a reused buffer has) must not show through.
      std::vector<std::uint64_t> ma((size + 63) / 64, ~0ull), mb((size + 63) / 64, 0x5a5aull);
      gridmr::simd::fold_and_classify(a.data(), size, ma.data());
      gridmr::fold_and_classify_portable(b.data(), size, mb.data());
      CHECK(a == b);
      CHECK(ma == mb);
    }
  });
}

TEST_CASE("short keys that share their overlapping bytes stay apart") {
  gridmr::KeyTable<std::uint64_t> table;
  // Same first and last four bytes, different lengths; same three probe bytes for 1-3.
  for (int round = 0; round < 3; ++round) {
    for (const char* key :
         {"abcd", "abcdabcd", "abcdbcd", "abcdcd", "abcdd", "aaa", "aa", "a", "aba", "ab", "b"}) {
      table.upsert(key, 1, add);
    }
  }
  for (const char* key :
       {"abcd", "abcdabcd", "abcdbcd", "abcdcd", "abcdd", "aaa", "aa", "a", "aba", "ab", "b"}) {
    CAPTURE(key);
    REQUIRE(table.find(key) != nullptr);
    CHECK(*table.find(key) == 3);
  }
  CHECK(table.size() == 11);
}

TEST_CASE("a short key reads the same from a padded buffer, whatever lies past its end") {
  std::mt19937_64 pick(11);
  gridmr::KeyTable<std::uint64_t> padded, plain;
  for (int round = 0; round < 20000; ++round) {
    const std::size_t n = pick() % 41;  // short (inline) and long keys
    std::string buffer(n + gridmr::kViewPadding, '\0');
    for (auto& c : buffer)
      c = static_cast<char>(pick() % 3 == 0 ? 0 : pick());  // zeros inside keys too
    const std::string_view key(buffer.data(), n);
    if (n <= 16) {
      const auto a = gridmr::key_bytes::short_key_padded(key.data(), n);
      const auto b = gridmr::key_bytes::short_key(std::string(key).data(), n);
      CHECK(a.lo == b.lo);
      CHECK(a.hi == b.hi);
    }
    padded.upsert(gridmr::PaddedView{key}, 1, add);
    plain.upsert(key, 1, add);
  }
  REQUIRE(padded.size() == plain.size());
  for (const auto& entry : plain) {
    const std::uint64_t* found = padded.find(entry.key());
    REQUIRE(found != nullptr);
    CHECK(*found == entry.value());
  }
}

TEST_CASE("a run of words upserts like one word at a time, stopping where the caller must act") {
  // Words of 0 to 24 bytes (some longer than an inline key) in a buffer with
  // random bytes between and after them; max_new small and large, so runs
  // stop for a spill, for a long key and at the end, through many growths.
  std::mt19937_64 pick(17);
  for (const std::size_t max_new : {std::size_t{1}, std::size_t{7}, SIZE_MAX}) {
    gridmr::KeyTable<std::uint64_t> table;
    std::map<std::string, std::uint64_t> reference;
    for (int chunk = 0; chunk < 40; ++chunk) {
      std::string buffer;
      std::vector<std::uint32_t> at;
      for (int w = 0; w < 2000; ++w) {
        buffer.append(pick() % 3, static_cast<char>(pick()));
        at.push_back(static_cast<std::uint32_t>(buffer.size()));
        const std::size_t n = pick() % 8 == 0 ? pick() % 25 : pick() % 6;
        for (std::size_t i = 0; i < n; ++i) buffer.push_back("abc\x80"[pick() % 4]);
        at.push_back(static_cast<std::uint32_t>(buffer.size()));
      }
      for (std::size_t i = 0; i < gridmr::kViewPadding; ++i) {
        buffer.push_back(static_cast<char>(pick()));
      }
      const std::size_t pairs = at.size() / 2;
      const auto word = [&](std::size_t k) {
        return buffer.substr(at[2 * k], at[2 * k + 1] - at[2 * k]);
      };
      for (std::size_t k = 0; k < pairs;) {
        const std::size_t before = table.size(), grows_at = table.grows_at();
        const std::size_t stop =
            table.upsert_words(buffer.data(), at.data(), k, pairs, 3, add, max_new);
        REQUIRE(stop >= k);
        REQUIRE(stop <= pairs);
        CHECK(table.size() - before <= max_new);
        for (; k < stop; ++k) reference[word(k)] += 3;
        if (k == pairs) break;
        const bool long_key = word(k).size() > gridmr::KeyTable<std::uint64_t>::kInlineKey;
        // It stops early only before a long key, after max_new new keys, or
        // when the table grew.
        CHECK((long_key || table.size() - before == max_new || table.grows_at() > grows_at));
        if (long_key && stop == k) {  // the caller takes it
          table.upsert(word(k), 3, add);
          reference[word(k)] += 3;
          ++k;
        }
      }
    }
    CHECK(table.size() == reference.size());
    std::map<std::string, std::uint64_t> back;
    for (const auto& entry : table) back[std::string(entry.key())] = entry.value();
    CHECK(back == reference);
  }
}

TEST_CASE("a short key read from the end of a page never touches the next one") {
  const GuardedPage guarded;
  gridmr::KeyTable<std::uint64_t> table;
  for (std::size_t n = 0; n <= 16; ++n) {
    char* a = guarded.end() - n;
    for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<char>('k' + i);
    const std::string copy(a, n);
    const auto k = gridmr::key_bytes::short_key(a, n);
    CHECK(std::string_view(reinterpret_cast<const char*>(&k), n) == copy);  // bytes in memory order
    table.upsert(std::string_view(a, n), n, add);
    REQUIRE(table.find(copy) != nullptr);
    CHECK(*table.find(copy) == n);
  }
}

TEST_CASE("the vector word-edge lister agrees with the portable one, on every target") {
  for_each_simd_target([] {
    std::mt19937_64 pick(7);
    for (std::size_t size : {1ul, 2ul, 63ul, 64ul, 65ul, 127ul, 128ul, 1000ul, 4099ul}) {
      for (int density = 0; density < 4; ++density) {  // runs of all sorts, incl. 64 edges a block
        std::vector<std::uint64_t> mask((size + 63) / 64);
        for (auto& w : mask) {
          w = density == 0   ? pick()
              : density == 1 ? 0x5555555555555555ull
              : density == 2 ? ~0ull
                             : pick() & pick();
        }
        if (size % 64 != 0) mask.back() &= (std::uint64_t{1} << (size % 64)) - 1;
        for (bool in_word : {false, true}) {
          std::vector<std::uint32_t> a(size + 64), b(size + 64);
          const std::size_t na =
              gridmr::simd::list_word_edges(mask.data(), size, in_word, a.data());
          const std::size_t nb =
              gridmr::list_word_edges_portable(mask.data(), size, in_word, b.data());
          REQUIRE(na == nb);
          a.resize(na);
          b.resize(nb);
          CHECK(a == b);
          for (std::size_t i = 1; i < a.size(); ++i) CHECK(a[i - 1] < a[i]);
        }
      }
    }
  });
}

TEST_CASE("the tab and newline lister finds every one, in order, on every target") {
  for_each_simd_target([] {
    std::mt19937_64 pick(11);
    for (std::size_t size : {0ul, 1ul, 15ul, 63ul, 64ul, 65ul, 127ul, 128ul, 1000ul, 4099ul}) {
      for (const char* alphabet : {"ab\t\n", "\t", "\n", "abc", "\t\nx\r\x09\x0a\xff"}) {
        const std::string letters(alphabet);
        std::string data(size, ' ');
        for (char& c : data) c = letters[pick() % letters.size()];
        std::vector<std::uint32_t> got(size + 64), want;
        got.resize(gridmr::simd::list_tabs_and_newlines(data.data(), size, got.data()));
        for (std::size_t i = 0; i < size; ++i) {
          if (data[i] == '\t' || data[i] == '\n') want.push_back(static_cast<std::uint32_t>(i));
        }
        CAPTURE(size);
        CHECK(got == want);
      }
    }
  });
}

TEST_CASE("each table hashes differently, so filling one in another's order stays fast") {
  // With one hash function for all tables, copying a table in its slot order
  // into a growing table packs neighbouring keys into runs, and linear
  // probing turns quadratic (this took minutes for 5M keys; with one seed for
  // all, this test takes 20 s here instead of 1 s, and the orders agree).
  gridmr::KeyTable<std::uint64_t> first, second;
  for (int i = 0; i < 1200000; ++i)
    first.upsert(std::string("w").append(std::to_string(i)), 1, add);
  for (const auto& entry : first) second.upsert(entry.key(), entry.value(), add);
  CHECK(second.size() == first.size());
  std::vector<std::string> order_first, order_second;
  for (const auto& entry : first) order_first.emplace_back(entry.key());
  for (const auto& entry : second) order_second.emplace_back(entry.key());
  CHECK(order_first != order_second);
}

TEST_CASE("the key arena grows with what it holds, not by whole blocks") {
  // A table's memory is its slots plus its arena; a small --memory share must
  // not be charged a 1 MiB block for its first long key (it spilled at every
  // such key), and a large arena must still grow by whole blocks.
  gridmr::Arena arena;
  const std::string key(40, 'k');
  arena.copy(key);
  CHECK(arena.bytes() <= 4096);
  std::size_t copied = key.size();
  bool kept = true;
  while (copied < (8u << 20)) {
    kept = kept && arena.copy(key) == key;
    copied += key.size();
  }
  CHECK(kept);
  CHECK(arena.bytes() >= copied);
  CHECK(arena.bytes() <= copied + (1u << 20) + 4096);
  const std::string huge(3u << 20, 'h');
  const std::size_t before = arena.bytes();
  CHECK(arena.copy(huge) == huge);
  CHECK(arena.bytes() - before <= huge.size() + (1u << 20));  // its own block, at most
}

TEST_CASE("zeroed memory: zero-filled and writable; large blocks whole huge pages, aligned") {
  for (const std::size_t bytes : {std::size_t{1}, std::size_t{100000}, std::size_t{2} << 20,
                                  (std::size_t{5} << 20) + 3}) {
    CAPTURE(bytes);
    gridmr::ZeroedMemory memory(bytes);
    auto* p = static_cast<unsigned char*>(memory.data());
    REQUIRE(p != nullptr);
    bool zero = true;
    for (std::size_t i = 0; i < bytes; i += 997) zero = zero && p[i] == 0;
    CHECK((zero && p[bytes - 1] == 0));
    std::memset(p, 0xab, bytes);
    CHECK(p[bytes - 1] == 0xab);
    if (bytes >= (std::size_t{2} << 20)) {
      CHECK(reinterpret_cast<std::uintptr_t>(p) % (std::size_t{2} << 20) == 0);
    }
    gridmr::ZeroedMemory moved = std::move(memory);
    CHECK(memory.data() == nullptr);
    CHECK(moved.data() == p);
  }
}

TEST_CASE("a table emptied by clear() and one grown past 2 MiB of slots count like std::map") {
  gridmr::KeyTable<std::uint64_t> table;
  std::map<std::string, std::uint64_t> expected;
  for (int round = 0; round < 2; ++round) {
    for (std::uint64_t i = 0; i < 200000; ++i) {
      std::string key = std::to_string(i * 7919 % 150000);
      key += 'k';
      table.upsert(key, i, add);
      expected[key] += i;
    }
    REQUIRE(table.size() == expected.size());
    std::map<std::string, std::uint64_t> got;
    for (const auto& entry : table) got[std::string(entry.key())] = entry.value();
    CHECK(got == expected);
    table.clear();
    expected.clear();
    CHECK(table.size() == 0);
  }
}

TEST_CASE("a run of words in a table large enough to prefetch upserts like one word at a time") {
  // 300,000 distinct words (8 MiB of slots and more: upsert_run prefetches
  // ahead there), some longer than an inline key, with runs cut short by
  // max_new: the prefetching cursor runs ahead of where a run stops.
  using Table = gridmr::KeyTable<std::uint64_t>;
  std::mt19937_64 pick(29);
  for (const std::size_t max_new : {std::size_t{1000}, SIZE_MAX}) {
    Table table;
    std::map<std::string, std::uint64_t> reference;
    for (int chunk = 0; chunk < 30; ++chunk) {
      std::string buffer;
      std::vector<std::uint32_t> at;
      for (int w = 0; w < 20000; ++w) {
        buffer.push_back(' ');
        at.push_back(static_cast<std::uint32_t>(buffer.size()));
        buffer += std::to_string(pick() % 300000);
        if (pick() % 64 == 0) buffer += "-and-a-tail-past-sixteen";
        at.push_back(static_cast<std::uint32_t>(buffer.size()));
      }
      buffer.append(gridmr::kViewPadding, '\xff');
      const std::size_t pairs = at.size() / 2;
      for (std::size_t k = 0; k < pairs;) {
        const std::size_t stop = table.upsert_words(buffer.data(), at.data(), k, pairs, 2, add, max_new);
        for (; k < stop; ++k) reference[buffer.substr(at[2 * k], at[2 * k + 1] - at[2 * k])] += 2;
        if (k < pairs && at[2 * k + 1] - at[2 * k] > Table::kInlineKey) {
          const std::string word = buffer.substr(at[2 * k], at[2 * k + 1] - at[2 * k]);
          table.upsert(word, 2, add);
          reference[word] += 2;
          ++k;
        }
      }
    }
    REQUIRE(table.view().capacity * sizeof(Table::Entry) >= Table::kPrefetchBytes);
    CHECK(table.size() == reference.size());
    std::map<std::string, std::uint64_t> back;
    for (const auto& entry : table) back[std::string(entry.key())] = entry.value();
    CHECK(back == reference);
  }
}

namespace {
// A cursor of keys of any length (KeyTable::upsert_run with kLongKeys), each
// with its own value; `ahead_only` keys are given only to the cursor that
// runs ahead (next_key), as a cursor may.
struct MixedKeys {
  static constexpr bool kLongKeys = true;
  const char* b;
  const std::uint32_t* at;
  const std::uint32_t* end;
  const std::uint64_t* values;
  bool next(const char*& p, std::size_t& n, std::uint64_t& v) {
    if (at == end || values[0] == 0) return false;  // value 0: a key the caller takes
    p = b + at[0];
    n = at[1] - at[0];
    v = values[0];
    at += 2;
    ++values;
    return true;
  }
  bool next_key(const char*& p, std::size_t& n) {
    if (at == end) return false;
    p = b + at[0];
    n = at[1] - at[0];
    at += 2;
    ++values;
    return true;
  }
};
}  // namespace

TEST_CASE("runs of keys of any length upsert like one key at a time, small table or large") {
  // Short and long keys (36-byte ids among numbers), runs cut short by max_new
  // and by keys the cursor leaves to the caller; 300,000 distinct keys take
  // the table past kPrefetchBytes, where a cursor runs ahead and hashes.
  using Table = gridmr::KeyTable<std::uint64_t>;
  std::mt19937_64 pick(31);
  for (const std::size_t max_new : {std::size_t{777}, SIZE_MAX}) {
    Table table;
    std::map<std::string, std::uint64_t> reference;
    bool small_checked = false;
    for (int chunk = 0; chunk < 30; ++chunk) {
      std::string buffer;
      std::vector<std::uint32_t> at;
      std::vector<std::uint64_t> values;
      for (int w = 0; w < 20000; ++w) {
        buffer.push_back('\t');
        at.push_back(static_cast<std::uint32_t>(buffer.size()));
        const std::uint64_t id = pick() % 300000;
        buffer += std::to_string(id);
        if (id % 3 == 0) buffer += "-0000-4000-8000-00000000000" + std::to_string(id % 7);
        at.push_back(static_cast<std::uint32_t>(buffer.size()));
        values.push_back(pick() % 50 == 0 ? 0 : 1 + pick() % 5);
      }
      buffer.append(gridmr::kViewPadding, '\xff');
      const std::size_t pairs = at.size() / 2;
      for (std::size_t k = 0; k < pairs;) {
        MixedKeys keys{buffer.data(), at.data() + 2 * k, at.data() + at.size(), values.data() + k};
        table.upsert_run(keys, add, max_new);
        const std::size_t stop = static_cast<std::size_t>(keys.at - at.data()) / 2;
        for (; k < stop; ++k) reference[buffer.substr(at[2 * k], at[2 * k + 1] - at[2 * k])] += values[k];
        if (k < pairs && values[k] == 0) {
          const std::string key = buffer.substr(at[2 * k], at[2 * k + 1] - at[2 * k]);
          table.upsert(key, 1, add);
          reference[key] += 1;
          ++k;
        }
      }
      if (chunk == 0) {
        small_checked = table.view().capacity * sizeof(Table::Entry) < Table::kPrefetchBytes;
        std::map<std::string, std::uint64_t> back;
        for (const auto& entry : table) back[std::string(entry.key())] = entry.value();
        CHECK(back == reference);
      }
    }
    CHECK(small_checked);
    REQUIRE(table.view().capacity * sizeof(Table::Entry) >= Table::kPrefetchBytes);
    CHECK(table.size() == reference.size());
    std::map<std::string, std::uint64_t> back;
    for (const auto& entry : table) back[std::string(entry.key())] = entry.value();
    CHECK(back == reference);
  }
}

namespace {
// TableRuntime::fold, which folds a shuffle round's records into the reduce table.
struct Folding : gridmr::TableRuntime<std::uint64_t, gridmr::AddCounts> {
  using TableRuntime::fold;
  using TableRuntime::ShortRecords;
  using TableRuntime::ShortSlots;
};
}  // namespace

TEST_CASE("folding records: runs of short keys, long keys alone, spills at the limit, no overread") {
  // Keys of 0 to 40 bytes (with \0 and 0xff bytes), some repeated; the
  // records end where a page that may not be read begins, so that a 16-byte
  // read from one of the last keys would fault.
  std::mt19937_64 pick(31);
  std::vector<char> records;
  std::map<std::string, std::uint64_t> reference;
  for (int i = 0; i < 20000; ++i) {
    std::string key(pick() % 8 == 0 ? pick() % 41 : pick() % 5, '\0');
    for (auto& c : key) c = "ab\0\xff"[pick() % 4];
    const std::uint64_t value = pick() % 100;
    gridmr::append_record(records, key, &value, sizeof value);
    reference[key] += value;
  }
  for (int tail = 0; tail < 3; ++tail) {  // a short key last, right at the end
    const std::string key(static_cast<std::size_t>(tail), 'z');
    const std::uint64_t value = 7;
    gridmr::append_record(records, key, &value, sizeof value);
    reference[key] += value;
  }
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const GuardedPage guarded((records.size() + page - 1) / page);
  char* const data = guarded.end() - records.size();
  std::memcpy(data, records.data(), records.size());
  for (const std::size_t limit : {std::size_t{64}, std::size_t{5000}, SIZE_MAX}) {
    CAPTURE(limit);
    gridmr::KeyTable<std::uint64_t> table;
    std::map<std::string, std::uint64_t> got;
    int spills = 0;
    const auto take = [&] {
      for (const auto& entry : table) got[std::string(entry.key())] += entry.value();
    };
    Folding::fold(table, Folding::ShortRecords{data, records.size(), 0}, limit, [&] {
      CHECK(table.size() <= limit);
      take();
      ++spills;
    });
    CHECK(table.size() < limit);
    take();
    CHECK(got == reference);
    // Each spill takes at most `limit` keys, so the keys take at least this many.
    CHECK((limit == SIZE_MAX ? spills == 0
                             : static_cast<std::size_t>(spills) + 1 >= reference.size() / limit));
  }
  gridmr::KeyTable<std::uint64_t> table;
  CHECK_THROWS_AS(
      Folding::fold(table, Folding::ShortRecords{data, records.size() - 1, 0}, SIZE_MAX, [] {}),
      gridmr::RunError);
}

TEST_CASE("folding one table into another: short keys from their slots, long keys alone, spills") {
  // What a one-rank job does instead of the shuffle: the map tables of the
  // other threads fold into the largest one. Keys of 0 to 40 bytes; the
  // target already holds some of them.
  std::mt19937_64 pick(37);
  gridmr::KeyTable<std::uint64_t> from, into_base;
  std::map<std::string, std::uint64_t> reference;
  for (int i = 0; i < 300000; ++i) {
    std::string key = std::to_string(pick() % 200000);
    if (pick() % 16 == 0) key += "-a-tail-past-the-sixteen-inline-bytes";
    const std::uint64_t value = pick() % 10;
    (i % 3 == 0 ? into_base : from).upsert(key, value, add);
    reference[key] += value;
  }
  REQUIRE(from.view().capacity * sizeof(gridmr::KeyTable<std::uint64_t>::Entry) >=
          gridmr::KeyTable<std::uint64_t>::kPrefetchBytes);
  for (const std::size_t limit : {std::size_t{1000}, SIZE_MAX}) {
    CAPTURE(limit);
    gridmr::KeyTable<std::uint64_t> into;
    for (const auto& entry : into_base) into.upsert(entry.key(), entry.value(), add);
    std::map<std::string, std::uint64_t> got;
    const auto take = [&] {
      for (const auto& entry : into) got[std::string(entry.key())] += entry.value();
    };
    int spills = 0;
    Folding::fold(into, Folding::ShortSlots{from.view(), 0}, limit, [&] {
      take();
      ++spills;
    });
    take();
    CHECK(got == reference);
    CHECK((limit == SIZE_MAX) == (spills == 0));
  }
}
