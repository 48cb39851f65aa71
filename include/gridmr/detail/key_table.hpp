// The combining hash table: byte-string keys, values of the job's type, folded in place.
#pragma once

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include "gridmr/detail/arena.hpp"
#include "gridmr/detail/padded_view.hpp"

namespace gridmr {

namespace key_bytes {

inline std::uint64_t load64(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
inline std::uint64_t load32(const char* p) {
  std::uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {  // 64x64 -> 128, folded (wyhash's mum)
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

// A fast hash for short keys that never reads outside [p, p + n): overlapping
// fixed-size loads cover every length, as XXH3 does for short inputs. The
// seed picks one of many such functions (see KeyTable).
inline std::uint64_t hash(const char* p, std::size_t n, std::uint64_t seed = 0) {
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
  std::uint64_t a, b;
  if (n >= 8) {
    const char* end = p + n;
    std::uint64_t h = k0 ^ n ^ seed;
    if (n > 16) {
      for (; end - p > 16; p += 16) h = mix(load64(p) ^ k1, load64(p + 8) ^ h);
      a = load64(end - 16);  // the last 16 bytes (some hashed twice: still inside the key)
    } else {
      a = load64(p);
    }
    b = load64(end - 8);
    return mix(a ^ k1, b ^ h);
  }
  if (n >= 4) {
    a = load32(p);
    b = load32(p + n - 4);
  } else if (n > 0) {
    a = (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
        (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
        static_cast<unsigned char>(p[n - 1]);
    b = 0;
  } else {
    a = b = 0;
  }
  return mix(a ^ k1 ^ n, (b << 32 | b) ^ k0 ^ seed);
}

// Byte equality of two keys of length n, with the same overlapping loads.
inline bool equal(const char* p, const char* q, std::size_t n) {
  if (n >= 8) {
    for (; n > 8; n -= 8, p += 8, q += 8) {
      if (load64(p) != load64(q)) return false;
    }
    return load64(p + n - 8) == load64(q + n - 8);
  }
  if (n >= 4) return load32(p) == load32(q) && load32(p + n - 4) == load32(q + n - 4);
  if (n == 0) return true;
  // Bytes 0, n/2 and n-1 cover every byte of a key of 1 to 3 bytes: no loop.
  return ((p[0] ^ q[0]) | (p[n / 2] ^ q[n / 2]) | (p[n - 1] ^ q[n - 1])) == 0;
}

// A key of at most 16 bytes as two little-endian words, zero beyond the key:
// its bytes in memory order, so the pair can be stored and read back as the key.
struct ShortKey {
  std::uint64_t lo, hi;
};

// From any key of n <= 16 bytes, reading only inside it. (Always inlined: in a
// shared library gcc otherwise calls it through the PLT, per key.)
[[gnu::always_inline]] inline ShortKey short_key(const char* p, std::size_t n) {
  if (n >= 8) return {load64(p), n > 8 ? load64(p + n - 8) >> (8 * (16 - n)) : 0};
  if (n >= 4) return {load32(p) | load32(p + n - 4) << (8 * (n - 4)), 0};
  if (n == 0) return {0, 0};
  const auto byte = [p](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
  return {byte(0) | byte(n / 2) << (8 * (n / 2)) | byte(n - 1) << (8 * (n - 1)), 0};
}

// For a key of n <= 16 bytes: the masks of its bytes in the first and in the
// second 8-byte word.
struct PaddedMasks {
  std::uint64_t low[17], high[17];
};
inline constexpr PaddedMasks kPaddedMasks = [] {
  PaddedMasks m{};
  for (std::size_t n = 0; n <= 16; ++n) {
    const std::size_t lo = n < 8 ? n : 8, hi = n > 8 ? n - 8 : 0;
    m.low[n] = lo == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * lo)) - 1;
    m.high[n] = hi == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * hi)) - 1;
  }
  return m;
}();

// The same from a key followed by at least 16 readable bytes: two loads and
// two masks from small tables, by length; no branch on the length. One form
// for every ISA: this header is compiled into the library and into users' jobs
// alike, and an inline function defined differently per ISA would break the
// one-definition rule. (A bzhi form for BMI2 measured no faster, within this
// VM's noise, in bench/micro.cpp's key_table_upsert_padded.)
inline ShortKey short_key_padded(const char* p, std::size_t n) {
  return {load64(p) & kPaddedMasks.low[n], load64(p + 8) & kPaddedMasks.high[n]};
}

inline constexpr std::uint64_t kHighMultiplier = 0xa0761d6478bd642full;

// A table's multiplier for a short key's bytes 8-15: odd, drawn from its seed
// (the fixed kHighMultiplier for seed 0). The seed's xor reaches bytes 0-7
// only, so with one multiplier for all, 16-byte keys that share their first 8
// bytes and whose last 8 were crafted to agree in (hi ^ n) * multiplier's top
// bits shared their home slots whatever the seed (tests/hash_flood_test.py:
// 300,000 such words, 164 s to map instead of 1 s). A random odd multiplier
// makes multiply-shift a universal family: no key set chosen in advance
// collides more than chance.
inline std::uint64_t high_multiplier(std::uint64_t seed) {
  return seed == 0 ? kHighMultiplier : mix(seed, kHighMultiplier) | 1;
}

inline std::uint64_t hash(ShortKey key, std::size_t n, std::uint64_t seed = 0,
                          std::uint64_t multiplier = kHighMultiplier) {
  constexpr std::uint64_t k1 = 0xe7037ed1a0b428dbull;
  // Multiplicative: the high bits depend on every key bit (KeyTable indexes by them).
  return (key.lo ^ seed) * k1 + (key.hi ^ n) * multiplier;
}

}  // namespace key_bytes

// One per map thread and one per reducing rank: open addressing with linear
// probing over 32-byte slots. A key of up to 16 bytes (nearly every word)
// lives in its slot, so a probe is one slot load and one branch-free compare;
// a longer key lives in the table's arena and its slot keeps its full hash,
// so key bytes are compared only when the hashes agree. Up to a million slots
// (32 MiB) the table is at most half full: fuller, linear probing's runs of
// occupied slots made a word-count map 15% slower. Larger tables are out of
// cache anyway, and there memory counts more: they fill up to 3/4, so a key
// costs 43 to 85 bytes there instead of 64 to 128.
// The part of a slot that is the same for every value type: the shuffle and
// the reduce read keys through it without knowing the job's value type.
struct SlotHeader {
  static constexpr std::size_t kInlineKey = 16;

  bool empty() const { return tag == 0; }
  std::string_view key() const {
    const std::size_t n = tag - 1;
    if (n <= kInlineKey) return {reinterpret_cast<const char*>(words), n};
    return {reinterpret_cast<const char*>(static_cast<std::uintptr_t>(words[1])), n};
  }

  std::uint64_t words[2];  // a short key's bytes (zero-padded), or a long key's hash and address
  std::uint64_t tag;       // key size + 1; 0 marks an empty slot
};
static_assert(std::endian::native == std::endian::little,
              "short keys are stored as little-endian words");

// A table's slots seen without their value type: `stride` bytes per slot, the
// value `sizeof(SlotHeader)` bytes into it.
struct TableView {
  const std::byte* slots = nullptr;
  std::size_t capacity = 0;
  std::size_t stride = 0;
  std::size_t size = 0;

  const SlotHeader& slot(std::size_t i) const {
    return *reinterpret_cast<const SlotHeader*>(slots + i * stride);
  }
  const std::byte* value(std::size_t i) const { return slots + i * stride + sizeof(SlotHeader); }
  // Calls f(key, value bytes) for every occupied slot, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < capacity; ++i) {
      if (!slot(i).empty()) f(slot(i).key(), value(i));
    }
  }
};

// How a table key splits into its key part, which decides the owner rank and
// groups, and the bytes after it. A plain job's key is all key part; a grouped
// job's key is followed by one value's bytes (`suffix`); a key part may also be
// a fixed `prefix` (a farm's item number) or run to an escaped terminator
// (`terminated`, see escape_key()), with anything after it.
struct KeyLayout {
  std::size_t suffix = 0;
  std::size_t prefix = 0;
  bool terminated = false;

  std::string_view part(std::string_view key) const {
    if (terminated) return key.substr(0, terminated_part_size(key));
    if (prefix > 0) return key.substr(0, prefix);
    return key.substr(0, key.size() - suffix);
  }
  // The bytes up to and including the first "\0\0" (a \0 inside the key part
  // is escaped as "\0\1"); the whole key if there is none.
  static std::size_t terminated_part_size(std::string_view key) {
    for (std::size_t i = 0; i + 1 < key.size(); ++i) {
      if (key[i] == '\0') {
        if (key[i + 1] == '\0') return i + 2;
        ++i;
      }
    }
    return key.size();
  }
};

// Appends `key` to `out` so that it ends at the first "\0\0": each \0 byte
// becomes "\0\1", then "\0\0" follows. The encoding keeps byte order (a key
// sorts before any longer key it begins), so escaped keys followed by anything
// sort by key first.
inline void escape_key(std::string_view key, std::string& out) {
  for (char c : key) {
    out.push_back(c);
    if (c == '\0') out.push_back('\1');
  }
  out.push_back('\0');
  out.push_back('\0');
}
// The key back from its escaped key part (with the terminator).
inline std::string unescape_key(std::string_view part) {
  std::string key;
  key.reserve(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (part[i] == '\0') {
      if (i + 1 < part.size() && part[i + 1] == '\0') break;
      ++i;
      key.push_back('\0');
    } else {
      key.push_back(part[i]);
    }
  }
  return key;
}

template <class V>
class KeyTable {
 public:
  static constexpr std::size_t kInlineKey = SlotHeader::kInlineKey;
  // upsert_run() prefetches slots kLookahead keys ahead in a table of
  // kPrefetchBytes and more. One-thread word-count map of ~100 MB on this
  // project's Zen 5 (2026-12-06, best of 5-7): 1M distinct words 0.60 ->
  // 0.40-0.43 s, 100k 0.15 -> 0.11-0.12 s, 30k (2 MiB of slots) no change,
  // and text with 500k rare words among common ones no slower; but the KJV's
  // 6k words (512 KiB, in L2; 256 MiB of text) 0.215 -> 0.284 s, so smaller
  // tables go without.
  static constexpr std::size_t kPrefetchBytes = std::size_t{4} << 20;
  static constexpr int kLookahead = 16;
  static_assert(alignof(V) <= alignof(SlotHeader), "value types are aligned to at most 8 bytes");

  class Entry {
   public:
    std::string_view key() const { return header_.key(); }
    const V& value() const { return value_; }

   private:
    friend class KeyTable;
    bool empty() const { return header_.empty(); }
    SlotHeader header_;
    V value_;
  };
  static_assert(std::is_trivially_copyable_v<V>, "values travel as bytes");

  KeyTable() { rehash(1024); }

  template <class Combine>
  void upsert(std::string_view key, const V& value, Combine&& combine) {
    if (key.size() <= kInlineKey) {
      upsert_short(key_bytes::short_key(key.data(), key.size()), key.size(), value, combine);
    } else {
      upsert_long(key, value, combine);
    }
  }

  // The same for a key that may be read past its end: no branches on its length.
  template <class Combine>
  void upsert(PaddedView key, const V& value, Combine&& combine) {
    const std::string_view k = key.bytes;
    if (k.size() <= kInlineKey) [[likely]] {
      upsert_short(key_bytes::short_key_padded(k.data(), k.size()), k.size(), value, combine);
    } else {
      upsert_long(k, value, combine);
    }
  }

  // Upserts the keys and values a cursor gives, in order, while
  // cursor.next(key, n, value) returns true: a key of n <= kInlineKey bytes
  // followed by at least kViewPadding readable bytes (a PaddedView). The
  // table's fields stay in registers for the whole run (one upsert at a time,
  // a slot store, which the compiler must assume may alias them, makes it
  // reload them per key), and so does the cursor, copied in and out. Stops
  // when next() returns false (the cursor's end, or a key it leaves to the
  // caller) and after `max_new` new keys (a spill is due); `run` then says
  // where. Out of line, the loop gets the registers to itself: a run is a
  // chunk of input (a word count's 64 KiB, ~10,000 words).
  //
  // A table larger than a core's cache (kPrefetchBytes) is read a slot miss
  // at a time; there a second cursor runs kLookahead keys ahead and prefetches
  // their slots, so that several misses are in flight at once. A cursor may
  // give that one its keys alone (next_key(key, n)); it may then give keys
  // that next() refuses, as long as it never refuses one that next() gives.
  //
  // A cursor with `static constexpr bool kLongKeys = true` may also give keys
  // longer than kInlineKey (padded too). Its run hashes each key once, when
  // the cursor ahead gives it. (A long key's slot holds its hash and the
  // address of its bytes, a second miss; prefetching those bytes too, half
  // the lookahead on, changed nothing measurable: 36-byte keys, 20 M lines,
  // best of 5, 2.85 against 2.97 s, and 5.38 against 5.37 s with the band
  // byte of a float sum; 2026-12-07.)
  template <class Cursor, class Combine>
  void upsert_run(Cursor& run, Combine&& combine, std::size_t max_new) {
    const bool ahead = capacity() * sizeof(Entry) >= kPrefetchBytes;
    if constexpr (requires { requires Cursor::kLongKeys; }) {
      if (ahead) {
        upsert_mixed_run_with<true>(run, combine, max_new);
      } else {
        upsert_mixed_run_with<false>(run, combine, max_new);
      }
    } else if (ahead) {
      upsert_run_with<true>(run, combine, max_new);
    } else {
      upsert_run_with<false>(run, combine, max_new);
    }
  }

  // The words b[at[2k], at[2k+1]) of a text chunk, each padded: a cursor
  // for upsert_run() that gives each with the same value, and stops before a
  // word longer than kInlineKey.
  struct WordCursor {
    const char* b;
    const std::uint32_t* at;   // the next word's start and end
    const std::uint32_t* end;  // past the last word's
    V value;
    bool next(const char*& p, std::size_t& n, V& v) {
      if (at == end) return false;
      n = at[1] - at[0];
      if (n > kInlineKey) [[unlikely]]
        return false;
      p = b + at[0];
      v = value;
      at += 2;
      return true;
    }
  };
  // upsert_run() over the words k of [first, pairs); returns the k where it stopped.
  template <class Combine>
  std::size_t upsert_words(const char* b, const std::uint32_t* at, std::size_t first,
                           std::size_t pairs, const V& value, Combine&& combine,
                           std::size_t max_new) {
    WordCursor words{b, at + 2 * first, at + 2 * pairs, value};
    upsert_run(words, combine, max_new);
    return static_cast<std::size_t>(words.at - at) / 2;
  }

  const V* find(std::string_view key) const {
    const std::size_t n = key.size();
    if (n <= kInlineKey) {
      const key_bytes::ShortKey k = key_bytes::short_key(key.data(), n);
      for (std::size_t i = slot_of(key_bytes::hash(k, n, seed_, multiplier_));;
           i = (i + 1) & mask_) {
        const Entry& slot = slot_array()[i];
        if (holds(slot, k, n)) return &slot.value_;
        if (slot.empty()) return nullptr;
      }
    }
    const std::uint64_t h = key_bytes::hash(key.data(), n, seed_);
    for (std::size_t i = slot_of(h);; i = (i + 1) & mask_) {
      const Entry& slot = slot_array()[i];
      if (holds(slot, key, h)) return &slot.value_;
      if (slot.empty()) return nullptr;
    }
  }

  std::size_t size() const { return size_; }
  TableView view() const {
    return {reinterpret_cast<const std::byte*>(slot_array()), capacity(), sizeof(Entry), size_};
  }
  bool empty() const { return size_ == 0; }

  // Bytes the table holds: its slots and its long keys.
  std::size_t memory_bytes() const { return capacity() * sizeof(Entry) + arena_.bytes(); }
  // Keys the table can hold before it grows next.
  std::size_t grows_at() const { return capacity() * (capacity() < kLargeTable ? 2 : 3) / 4; }
  // Empties the table, keeping its slots (a spilled table fills again at once).
  void clear() {
    if (size_ == 0) return;
    std::memset(static_cast<void*>(slot_array()), 0, capacity() * sizeof(Entry));
    arena_ = Arena();
    size_ = 0;
  }

  // Iteration over the occupied slots, in table order.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = const Entry*;
    using reference = const Entry&;
    const_iterator(const Entry* at, const Entry* end) : at_(at), end_(end) { skip(); }
    reference operator*() const { return *at_; }
    pointer operator->() const { return at_; }
    const_iterator& operator++() {
      ++at_;
      skip();
      return *this;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.at_ == b.at_;
    }

   private:
    void skip() {
      while (at_ != end_ && at_->empty()) ++at_;
    }
    const Entry* at_;
    const Entry* end_;
  };
  const_iterator begin() const { return {slot_array(), slot_array() + capacity()}; }
  const_iterator end() const { return {slot_array() + capacity(), slot_array() + capacity()}; }

 private:
  template <bool kAhead, class Cursor, class Combine>
  [[gnu::noinline]] void upsert_run_with(Cursor& run, Combine& combine, std::size_t max_new) {
    Cursor cursor = run;  // a local: its fields live in registers
    Entry* const slots = slot_array();
    const std::size_t mask = mask_;
    const std::uint64_t shift = static_cast<std::uint64_t>(shift_);
    const std::uint64_t seed = seed_, multiplier = multiplier_;
    // Keys that fit before the table must grow (it grows after the one past).
    const std::size_t grow_at = grows_at();
    // The size where this run stops: a spill is due, or the table must grow.
    const std::size_t stop_at = size_ + std::min(max_new, grow_at + 1 - size_);
    // The key's two words, masked by length from a table (two loads and two
    // ands; bzhi needs ~8 instructions to find its two bit counts).
    const auto key_of = [](const char* p, std::size_t n) -> key_bytes::ShortKey {
      return {load_masked(p, key_bytes::kPaddedMasks.low[n]),
              load_masked(p + 8, key_bytes::kPaddedMasks.high[n])};
    };
    const char* p;
    std::size_t n;
    V value;
    [[maybe_unused]] Cursor ahead = cursor;  // kLookahead keys on, where it has them
    [[maybe_unused]] const auto prefetch_next = [&] {
      const char* q;
      std::size_t m;
      if (next_key_of(ahead, q, m)) {
        __builtin_prefetch(&slots[key_bytes::hash(key_of(q, m), m, seed, multiplier) >> shift], 1);
      }
    };
    if constexpr (kAhead) {
      for (int k = 0; k < kLookahead; ++k) prefetch_next();
    }
    while (cursor.next(p, n, value)) {
      if constexpr (kAhead) prefetch_next();
      const key_bytes::ShortKey key = key_of(p, n);
      if (combine_short(slots, mask, key_bytes::hash(key, n, seed, multiplier) >> shift, key, n,
                        value, combine) &&
          ++size_ == stop_at) [[unlikely]]
        break;
    }
    run = cursor;
    if (size_ > grow_at) rehash(capacity() * 2);
  }

  // The next key of the cursor that runs ahead: next_key() where the cursor
  // has it (working out the value may cost), else next() without the value.
  template <class Cursor>
  static bool next_key_of(Cursor& ahead, const char*& q, std::size_t& m) {
    if constexpr (requires { ahead.next_key(q, m); }) {
      return ahead.next_key(q, m);
    } else {
      V v;
      return ahead.next(q, m, v);
    }
  }

  // upsert_run_with() for keys of any length (Cursor::kLongKeys).
  template <bool kAhead, class Cursor, class Combine>
  [[gnu::noinline]] void upsert_mixed_run_with(Cursor& run, Combine& combine,
                                               std::size_t max_new) {
    Cursor cursor = run;
    Entry* const slots = slot_array();
    const std::size_t mask = mask_;
    const std::uint64_t shift = static_cast<std::uint64_t>(shift_);
    const std::uint64_t seed = seed_, multiplier = multiplier_;
    const std::size_t grow_at = grows_at();
    const std::size_t stop_at = size_ + std::min(max_new, grow_at + 1 - size_);
    const auto hash_of_key = [&](const char* p, std::size_t n) {
      if (n <= kInlineKey) [[likely]] {
        return key_bytes::hash(key_bytes::short_key_padded(p, n), n, seed, multiplier);
      }
      return key_bytes::hash(p, n, seed);
    };
    // Hashes of the keys the cursor ahead has given: key k's in hashes[k % kLookahead].
    [[maybe_unused]] std::uint64_t hashes[kLookahead];
    [[maybe_unused]] std::size_t fetched = 0;
    [[maybe_unused]] Cursor ahead = cursor;
    [[maybe_unused]] const auto fetch = [&] {
      const char* q;
      std::size_t m;
      if (!next_key_of(ahead, q, m)) return;
      const std::uint64_t h = hash_of_key(q, m);
      hashes[fetched++ % kLookahead] = h;
      __builtin_prefetch(&slots[h >> shift], 1);
    };
    if constexpr (kAhead) {
      for (int k = 0; k < kLookahead; ++k) fetch();
    }
    const char* p;
    std::size_t n;
    V value;
    for (std::size_t taken = 0; cursor.next(p, n, value); ++taken) {
      std::uint64_t h;
      if constexpr (kAhead) {
        h = taken < fetched ? hashes[taken % kLookahead] : hash_of_key(p, n);
        fetch();
      } else {
        h = hash_of_key(p, n);
      }
      bool added;
      if (n <= kInlineKey) [[likely]] {
        added = combine_short(slots, mask, h >> shift, key_bytes::short_key_padded(p, n), n, value,
                              combine);
      } else {
        added = combine_long(slots, mask, h >> shift, std::string_view(p, n), h, value, combine);
      }
      if (added && ++size_ == stop_at) [[unlikely]]
        break;
    }
    run = cursor;
    if (size_ > grow_at) rehash(capacity() * 2);
  }

  // combine_short() for a long key of hash h (its bytes go to the arena).
  template <class Combine>
  bool combine_long(Entry* slots, std::size_t mask, std::size_t i, std::string_view key,
                    std::uint64_t h, const V& value, Combine& combine) {
    for (;; i = (i + 1) & mask) {
      Entry& slot = slots[i];
      if (holds(slot, key, h)) {
        slot.value_ = combine(slot.value_, value);
        return false;
      }
      if (slot.empty()) {
        slot.header_.words[0] = h;
        slot.header_.words[1] = reinterpret_cast<std::uintptr_t>(arena_.copy(key).data());
        slot.value_ = value;
        slot.header_.tag = key.size() + 1;
        return true;
      }
    }
  }

  static std::uint64_t load_masked(const char* p, std::uint64_t mask) {
    std::uint64_t word = key_bytes::load64(p) & mask;
    // Kept in a general register: gcc would otherwise pair a key's two words
    // in a vector register and move them out again (10% slower map).
    asm("" : "+r"(word));
    return word;
  }
  static bool holds(const Entry& slot, key_bytes::ShortKey k, std::size_t n) {
    return ((slot.header_.words[0] ^ k.lo) | (slot.header_.words[1] ^ k.hi) |
            (slot.header_.tag ^ (n + 1))) == 0;
  }
  static bool holds(const Entry& slot, std::string_view key, std::uint64_t h) {
    return slot.header_.tag == key.size() + 1 && slot.header_.words[0] == h &&
           key_bytes::equal(slot.key().data(), key.data(), key.size());
  }

  // Combines `value` into short key k's slot, probing from slot i, or puts
  // the key in the first empty slot: then returns true (a new key).
  template <class Combine>
  [[gnu::always_inline]] static bool combine_short(Entry* slots, std::size_t mask, std::size_t i,
                                                   key_bytes::ShortKey k, std::size_t n,
                                                   const V& value, Combine& combine) {
    for (;; i = (i + 1) & mask) {
      Entry& slot = slots[i];
      if (holds(slot, k, n)) [[likely]] {
        slot.value_ = combine(slot.value_, value);
        return false;
      }
      if (slot.empty()) {
        slot.header_.words[0] = k.lo;
        slot.header_.words[1] = k.hi;
        slot.value_ = value;
        slot.header_.tag = n + 1;
        return true;
      }
    }
  }

  template <class Combine>
  void upsert_short(key_bytes::ShortKey k, std::size_t n, const V& value, Combine& combine) {
    if (combine_short(slot_array(), mask_, slot_of(key_bytes::hash(k, n, seed_, multiplier_)), k, n,
                      value, combine)) {
      added();
    }
  }

  template <class Combine>
  void upsert_long(std::string_view key, const V& value, Combine& combine) {
    const std::uint64_t h = key_bytes::hash(key.data(), key.size(), seed_);
    if (combine_long(slot_array(), mask_, slot_of(h), key, h, value, combine)) added();
  }

  static constexpr std::size_t kLargeTable = std::size_t{1} << 20;  // slots
  void added() {
    if (++size_ > grows_at()) rehash(capacity() * 2);
  }

  std::uint64_t hash_of(const Entry& slot) const {
    const std::size_t n = slot.header_.tag - 1;
    return n <= kInlineKey ? key_bytes::hash({slot.header_.words[0], slot.header_.words[1]}, n,
                                             seed_, multiplier_)
                           : slot.header_.words[0];
  }

  std::size_t capacity() const { return mask_ + 1; }
  Entry* slot_array() const { return static_cast<Entry*>(memory_.data()); }
  std::size_t slot_of(std::uint64_t hash) const { return hash >> shift_; }
  void rehash(std::size_t capacity) {
    // Zero bytes are empty slots (Entry is trivially copyable; clear() zeroes them too).
    const ZeroedMemory old_memory = std::exchange(memory_, ZeroedMemory(capacity * sizeof(Entry)));
    const Entry* const old = static_cast<const Entry*>(old_memory.data());
    const std::size_t old_capacity = old != nullptr ? mask_ + 1 : 0;
    Entry* const slots = slot_array();
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (std::size_t j = 0; j < old_capacity; ++j) {
      if (old[j].empty()) continue;
      std::size_t i = slot_of(hash_of(old[j]));
      while (!slots[i].empty()) i = (i + 1) & mask_;
      slots[i] = old[j];
    }
  }

  // Each table hashes with its own seed. With one hash function for all, a
  // table filled in another table's slot order (the shuffle fills the reduce
  // table so) gets its keys in runs of neighbouring slots, and linear probing
  // degenerates: 5M distinct keys took 400 s to shuffle instead of 1.3 s.
  // The seeds start from random bits drawn once per process: with seeds known
  // in advance, keys crafted to share their home slots (300,000 8-byte words)
  // took 92 s to map instead of 0.02 s. Results never depend on the seeds.
  static std::uint64_t next_seed() {
    static const std::uint64_t process_bits = [] {
      std::uint64_t bits = 0;
      if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
        bits = static_cast<std::uint64_t>(
                   std::chrono::steady_clock::now().time_since_epoch().count()) ^
               (static_cast<std::uint64_t>(::getpid()) << 40);
      }
      return bits;
    }();
    static std::atomic<std::uint64_t> tables{0};
    return key_bytes::mix(++tables ^ 0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull ^ process_bits);
  }

  std::uint64_t seed_ = next_seed();
  std::uint64_t multiplier_ = key_bytes::high_multiplier(seed_);  // declared after seed_
  Arena arena_;
  ZeroedMemory memory_;  // the slots
  std::size_t mask_ = 0;
  int shift_ = 64;  // a hash's top log2(capacity) bits pick its home slot
  std::size_t size_ = 0;
};

}  // namespace gridmr
