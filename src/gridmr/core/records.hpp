// The wire format of intermediate pairs: [u32 key length][key bytes][u64 value].
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace gridmr {

inline constexpr std::size_t kRecordOverhead = sizeof(std::uint32_t) + sizeof(std::uint64_t);

inline std::size_t record_size(std::string_view key) { return kRecordOverhead + key.size(); }

// Appends one record to `out`. Keys must be shorter than 4 GiB (checked by the caller).
void append_record(std::vector<char>& out, std::string_view key, std::uint64_t value);

[[noreturn]] void throw_truncated_records(std::size_t size, std::size_t at);

// Calls f(key, value) for every record in [data, data + size). Throws RunError
// if the buffer does not end on a record boundary.
template <class F>
void for_each_record(const char* data, std::size_t size, F&& f) {
  std::size_t at = 0;
  while (at < size) {
    std::uint32_t length;
    std::uint64_t value;
    if (size - at < kRecordOverhead) break;
    std::memcpy(&length, data + at, sizeof length);
    if (size - at - kRecordOverhead < length) break;
    std::memcpy(&value, data + at + sizeof length + length, sizeof value);
    f(std::string_view(data + at + sizeof length, length), value);
    at += kRecordOverhead + length;
  }
  if (at != size) throw_truncated_records(size, at);
}


}  // namespace gridmr
