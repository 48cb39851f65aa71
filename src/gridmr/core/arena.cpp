// The memory of key tables.
#include "gridmr/detail/arena.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace gridmr {

void Arena::grow(std::size_t at_least) {
  // Blocks double from 4 KiB up to block_size_, so that a small table (a
  // --memory of a few MiB shared among threads) is not charged a whole block
  // for its first long key, which made it spill at every such key. Keys
  // longer than a block get a block of their own, so one 100 MB word does not
  // make every later block 100 MB.
  constexpr std::size_t kFirstBlock = 4 << 10;
  const std::size_t size = std::max(std::min(block_size_, std::max(kFirstBlock, held_)), at_least);
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
  next_ = blocks_.back().get();
  free_ = size;
  held_ += size;
}

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;

// GRIDMR_HUGE_PAGES=off: no huge pages asked for (the launcher reads it too).
bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* setting = std::getenv("GRIDMR_HUGE_PAGES");
    return setting == nullptr || std::strcmp(setting, "off") != 0;
  }();
  return wanted;
}
}  // namespace

ZeroedMemory::ZeroedMemory(std::size_t bytes) {
  if (bytes < kHugePage) {
    data_ = std::calloc(std::max<std::size_t>(bytes, 1), 1);
    if (data_ == nullptr) throw std::bad_alloc();
    return;
  }
  // Whole huge pages, on a huge page boundary: map one page more than needed
  // and give back the unaligned head and the tail.
  const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* const mapped = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) ::munmap(mapped, aligned - start);
  const std::size_t tail = start + size + kHugePage - (aligned + size);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  data_ = reinterpret_cast<void*>(aligned);
  mapped_ = size;
  if (huge_pages_wanted()) ::madvise(data_, size, MADV_HUGEPAGE);  // a hint: else 4 KiB pages
}

ZeroedMemory::~ZeroedMemory() {
  if (mapped_ > 0) {
    ::munmap(data_, mapped_);
  } else {
    std::free(data_);
  }
}

}  // namespace gridmr
