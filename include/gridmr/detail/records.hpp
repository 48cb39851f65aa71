// The wire format of intermediate pairs: [u32 key length][key bytes][value bytes].
// The value's size is the job's (sizeof its value type), the same for every record.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace gridmr {

inline std::size_t record_size(std::string_view key, std::size_t value_size) {
  return sizeof(std::uint32_t) + key.size() + value_size;
}

// Appends one record to `out`. Keys must be shorter than 4 GiB (checked by the caller).
void append_record(std::vector<char>& out, std::string_view key, const void* value,
                   std::size_t value_size);

[[noreturn]] void throw_truncated_records(std::size_t size, std::size_t at);

// Calls f(key, value bytes) for every record in [data, data + size). The value
// bytes may be unaligned: copy them out. Throws RunError if the buffer does
// not end on a record boundary.
template <class F>
void for_each_record(const char* data, std::size_t size, std::size_t value_size, F&& f) {
  const std::size_t overhead = sizeof(std::uint32_t) + value_size;
  std::size_t at = 0;
  while (at < size) {
    std::uint32_t length;
    if (size - at < overhead) break;
    std::memcpy(&length, data + at, sizeof length);
    if (size - at - overhead < length) break;
    f(std::string_view(data + at + sizeof length, length), data + at + sizeof length + length);
    at += overhead + length;
  }
  if (at != size) throw_truncated_records(size, at);
}

}  // namespace gridmr
