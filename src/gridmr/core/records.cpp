// The wire format of intermediate pairs.
#include "gridmr/core/records.hpp"

#include <fmt/format.h>

#include "gridmr/core/error.hpp"

namespace gridmr {

void append_record(std::vector<char>& out, std::string_view key, std::uint64_t value) {
  const auto length = static_cast<std::uint32_t>(key.size());
  const std::size_t at = out.size();
  out.resize(at + record_size(key));
  char* p = out.data() + at;
  std::memcpy(p, &length, sizeof length);
  if (length != 0) std::memcpy(p + sizeof length, key.data(), length);
  std::memcpy(p + sizeof length + length, &value, sizeof value);
}

void throw_truncated_records(std::size_t size, std::size_t at) {
  throw RunError(fmt::format("corrupt shuffle buffer: {} bytes, records end at {}", size, at));
}

}  // namespace gridmr
