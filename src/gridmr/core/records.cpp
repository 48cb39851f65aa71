// The wire format of intermediate pairs.
#include "gridmr/detail/records.hpp"

#include <fmt/format.h>

#include "gridmr/errors.hpp"

namespace gridmr {

void append_record(std::vector<char>& out, std::string_view key, const void* value,
                   std::size_t value_size) {
  const auto length = static_cast<std::uint32_t>(key.size());
  const std::size_t at = out.size();
  out.resize(at + record_size(key, value_size));
  char* p = out.data() + at;
  std::memcpy(p, &length, sizeof length);
  if (length != 0) std::memcpy(p + sizeof length, key.data(), length);
  std::memcpy(p + sizeof length + length, value, value_size);
}

void throw_truncated_records(std::size_t size, std::size_t at) {
  throw RunError(fmt::format("corrupt shuffle buffer: {} bytes, records end at {}", size, at));
}

}  // namespace gridmr
