// The memory of key tables: a bump allocator for key bytes (keys live as long
// as the table that owns them), and zero-filled blocks for the slots.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>
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

// A zero-filled block of memory (a table's slots: a zero slot is empty).
// Blocks of 2 MiB and more are mapped from the kernel, which hands them out
// zeroed, so that a growing table does not write its new slots twice, and
// with transparent huge pages asked for (madvise: Debian's default mode), so
// that they are faulted in 2 MiB at a time rather than 4 KiB. On this
// project's VMs a page fault costs microseconds: a farm of 200,000 items spent
// half its time in the faults of its table's growth. Smaller blocks come from
// calloc. GRIDMR_HUGE_PAGES=off asks for no huge pages (where the kernel's
// compaction for them stalls a busy node).
class ZeroedMemory {
 public:
  ZeroedMemory() = default;
  explicit ZeroedMemory(std::size_t bytes);  // throws std::bad_alloc
  ~ZeroedMemory();
  ZeroedMemory(ZeroedMemory&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), mapped_(std::exchange(other.mapped_, 0)) {}
  ZeroedMemory& operator=(ZeroedMemory&& other) noexcept {
    ZeroedMemory(std::move(other)).swap(*this);
    return *this;
  }
  void swap(ZeroedMemory& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(mapped_, other.mapped_);
  }

  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  std::size_t mapped_ = 0;  // bytes mapped; 0 when from calloc
};

}  // namespace gridmr
