// A bump allocator for key bytes.
#include "gridmr/detail/arena.hpp"

#include <algorithm>

namespace gridmr {

void Arena::grow(std::size_t at_least) {
  // Keys longer than a block get a block of their own, so one 100 MB word
  // does not make every later block 100 MB.
  const std::size_t size = std::max(block_size_, at_least);
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
  next_ = blocks_.back().get();
  free_ = size;
  held_ += size;
}

}  // namespace gridmr
