// The combining hash table: byte-string keys, 64-bit values, folded in place.
#pragma once

#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string_view>
#include <utility>

#include "gridmr/core/arena.hpp"

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
// fixed-size loads cover every length, as XXH3 does for short inputs.
inline std::uint64_t hash(const char* p, std::size_t n) {
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
  std::uint64_t a, b;
  if (n >= 8) {
    const char* end = p + n;
    std::uint64_t h = k0 ^ n;
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
  return mix(a ^ k1 ^ n, (b << 32 | b) ^ k0);
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

}  // namespace key_bytes

// One per map thread and one per reducing rank: open addressing with linear
// probing. A slot keeps the key's full 64-bit hash, so a probe compares key
// bytes only when the hashes agree (almost always a real match). Keys are
// copied into the table's arena on first sight only.
class KeyTable {
 public:
  struct Entry {
    std::string_view first;   // the key (its bytes live in the arena)
    std::uint64_t second;     // the combined value
    std::uint64_t hash;
  };

  KeyTable() { rehash(1024); }

  template <class Combine>
  void upsert(std::string_view key, std::uint64_t value, Combine&& combine) {
    const std::uint64_t h = key_bytes::hash(key.data(), key.size());
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Entry& slot = slots_[i];
      if (slot.first.data() == nullptr) {
        slot = {arena_.copy_nonempty(key), value, h};
        if (++size_ * 4 > capacity() * 3) rehash(capacity() * 2);
        return;
      }
      if (slot.hash == h && slot.first.size() == key.size() &&
          key_bytes::equal(slot.first.data(), key.data(), key.size())) {
        slot.second = combine(slot.second, value);
        return;
      }
    }
  }

  const std::uint64_t* find(std::string_view key) const {
    const std::uint64_t h = key_bytes::hash(key.data(), key.size());
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& slot = slots_[i];
      if (slot.first.data() == nullptr) return nullptr;
      if (slot.hash == h && slot.first == key) return &slot.second;
    }
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

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
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.at_ == b.at_; }

   private:
    void skip() {
      while (at_ != end_ && at_->first.data() == nullptr) ++at_;
    }
    const Entry* at_;
    const Entry* end_;
  };
  const_iterator begin() const { return {slots_.get(), slots_.get() + capacity()}; }
  const_iterator end() const { return {slots_.get() + capacity(), slots_.get() + capacity()}; }

 private:
  std::size_t capacity() const { return mask_ + 1; }
  void rehash(std::size_t capacity) {
    auto old = std::move(slots_);
    const std::size_t old_capacity = old ? mask_ + 1 : 0;
    slots_ = std::make_unique<Entry[]>(capacity);  // value-initialised: empty slots
    mask_ = capacity - 1;
    for (std::size_t j = 0; j < old_capacity; ++j) {
      if (old[j].first.data() == nullptr) continue;
      std::size_t i = old[j].hash & mask_;
      while (slots_[i].first.data() != nullptr) i = (i + 1) & mask_;
      slots_[i] = old[j];
    }
  }

  Arena arena_;
  std::unique_ptr<Entry[]> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace gridmr
