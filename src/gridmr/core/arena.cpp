// A bump allocator for key bytes.
#include "gridmr/detail/arena.hpp"

#include <algorithm>

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

}  // namespace gridmr
