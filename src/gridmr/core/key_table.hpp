// The combining hash table: byte-string keys, 64-bit values, folded in place.
#pragma once

#include <absl/container/flat_hash_map.h>

// XXH3 compiled inline here: for words of a few bytes a call into the shared
// library (and its PLT stub) cost more than the hash itself. Its long-input
// path uses SSE2 (1): words never need more, and gcc 12's AVX-512 headers
// raise false -Wuninitialized warnings wherever they are inlined.
#define XXH_INLINE_ALL
#define XXH_VECTOR 1
#include <xxhash.h>

#include <cstring>

#include <cstdint>
#include <string_view>

#include "gridmr/core/arena.hpp"

namespace gridmr {

struct KeyHash {
  std::size_t operator()(std::string_view key) const noexcept {
    return XXH3_64bits(key.data(), key.size());
  }
};

// Key equality without a call to memcmp: keys are mostly a few bytes long.
struct KeyEqual {
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    if (a.size() != b.size()) return false;
    const char* p = a.data();
    const char* q = b.data();
    std::size_t n = a.size();
    for (; n >= 8; n -= 8, p += 8, q += 8) {
      std::uint64_t x, y;
      std::memcpy(&x, p, 8);
      std::memcpy(&y, q, 8);
      if (x != y) return false;
    }
    for (; n > 0; --n) {
      if (*p++ != *q++) return false;
    }
    return true;
  }
};

// One per map thread and one per reducing rank. Keys are copied into the
// table's arena on first sight only; a repeated key costs one hash and one probe.
class KeyTable {
 public:
  using Map = absl::flat_hash_map<std::string_view, std::uint64_t, KeyHash, KeyEqual>;

  template <class Combine>
  void upsert(std::string_view key, std::uint64_t value, Combine&& combine) {
    bool inserted = false;
    auto it = map_.lazy_emplace(key, [&](const Map::constructor& construct) {
      inserted = true;
      construct(arena_.copy(key), value);
    });
    if (!inserted) it->second = combine(it->second, value);
  }

  std::size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  Map::const_iterator begin() const { return map_.begin(); }
  Map::const_iterator end() const { return map_.end(); }
  const std::uint64_t* find(std::string_view key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }

 private:
  Arena arena_;
  Map map_;
};

}  // namespace gridmr
