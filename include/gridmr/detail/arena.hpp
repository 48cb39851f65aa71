// A bump allocator for key bytes: keys live as long as the table that owns them.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace gridmr {

class Arena {
 public:
  explicit Arena(std::size_t block_size = 1 << 20) : block_size_(block_size) {}

  // A stable copy of `bytes`, valid until the arena is destroyed.
  std::string_view copy(std::string_view bytes) {
    if (bytes.size() > free_) grow(bytes.size());
    char* out = next_;
    if (!bytes.empty()) __builtin_memcpy(out, bytes.data(), bytes.size());
    next_ += bytes.size();
    free_ -= bytes.size();
    return {out, bytes.size()};
  }

  // Bytes held by the arena's blocks.
  std::size_t bytes() const { return held_; }

 private:
  void grow(std::size_t at_least);

  std::size_t block_size_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  std::size_t free_ = 0;
  std::size_t held_ = 0;
};

}  // namespace gridmr
