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

// The record at data[at], of the records in [data, data + size): its key and
// value bytes, and `at` moved past it. False at the end, and at a record cut
// short (`at` is left on it).
inline bool next_record(const char* data, std::size_t size, std::size_t value_size,
                        std::size_t& at, std::string_view& key, const char*& value) {
  const std::size_t overhead = sizeof(std::uint32_t) + value_size;
  if (at >= size || size - at < overhead) return false;
  std::uint32_t length;
  std::memcpy(&length, data + at, sizeof length);
  if (size - at - overhead < length) return false;
  key = std::string_view(data + at + sizeof length, length);
  value = data + at + sizeof length + length;
  at += overhead + length;
  return true;
}

// Calls f(key, value bytes) for every record in [data, data + size). The value
// bytes may be unaligned: copy them out. Throws RunError if the buffer does
// not end on a record boundary.
template <class F>
void for_each_record(const char* data, std::size_t size, std::size_t value_size, F&& f) {
  std::size_t at = 0;
  std::string_view key;
  const char* value;
  while (next_record(data, size, value_size, at, key, value)) f(key, value);
  if (at != size) throw_truncated_records(size, at);
}

}  // namespace gridmr
