// The combining hash table: byte-string keys, 64-bit values, folded in place.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <xxhash.h>

#include <cstdint>
#include <string_view>

#include "gridmr/core/arena.hpp"

namespace gridmr {

struct KeyHash {
  std::size_t operator()(std::string_view key) const noexcept {
    return XXH3_64bits(key.data(), key.size());
  }
};

// One per map thread and one per reducing rank. Keys are copied into the
// table's arena on first sight only; a repeated key costs one hash and one probe.
class KeyTable {
 public:
  using Map = absl::flat_hash_map<std::string_view, std::uint64_t, KeyHash>;

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
