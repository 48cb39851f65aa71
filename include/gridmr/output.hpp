// What a job's write() gets: its sorted result, and the file to write it into.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "gridmr/plan.hpp"
#include "gridmr/value.hpp"

namespace gridmr {

class ResultWriter;

// This rank's part of the reduced result. Rank r holds the keys of a range
// that comes right after rank r-1's, so writing every rank's part in rank
// order gives one list sorted by key bytes.
template <class V>
struct Result {
  std::span<const std::string_view> keys;  // this rank's keys, ascending by bytes
  std::span<const V> values;               // values[i] belongs to keys[i]
  std::uint64_t total_keys = 0;            // over all ranks
  V total{};                               // combine() over every value of every rank
  const Plan* plan = nullptr;              // files (sources), input bytes, units
};

// A grouped job's part of the result on this rank: its keys, and for each key
// its distinct values in ascending order with how often each was emitted.
template <class E>
struct Result<Group<E>> {
  std::span<const std::string_view> keys;  // this rank's keys, ascending by bytes
  std::span<const std::uint64_t> sizes;    // sizes[i]: distinct values of keys[i]
  std::span<const E> values;               // the keys' values, key after key, each ascending
  std::span<const std::uint64_t> counts;   // counts[j]: how often values[j] was emitted for its key
  std::uint64_t total_keys = 0;            // over all ranks
  std::uint64_t total_values = 0;          // distinct (key, value) pairs over all ranks
  std::uint64_t total = 0;                 // emitted pairs over all ranks
  const Plan* plan = nullptr;
};

// The result file as a job writes it. Every call is collective: every rank
// makes the same calls in the same order (attributes with the same values),
// and datasets get each rank's slice, concatenated in rank order.
class Output {
 public:
  explicit Output(ResultWriter& writer) : writer_(writer) {}

  // `group`/offsets (n+1 byte offsets, uint64) and `group`/data (uint8): the
  // keys of all ranks, in order (docs/result-format.md).
  void write_keys(const std::string& group, std::span<const std::string_view> keys);

  // A CSR offsets dataset (uint64, n+1 entries, first 0) for every rank's
  // list `sizes`, in rank order: entry i+1 - entry i = size i. With a values
  // dataset written by write(), list i is values[offsets[i] : offsets[i+1]].
  void write_offsets(const std::string& path, std::span<const std::uint64_t> sizes);

  // `group`/offsets and `group`/data for a list that every rank passes alike
  // (the input files, say): stored once.
  void write_list(const std::string& group, std::span<const std::string> items);

  // A 1-D dataset of every rank's `values`: native numbers, arrays, or
  // compound types for structs (their `fields`).
  template <Value V>
  void write(const std::string& path, std::span<const V> values) {
    write_described(path, *describe<V>(), values.data(), values.size());
  }

  // Attributes of the object at `path` ("/" for the root), created as needed.
  void attribute(const std::string& path, const std::string& name, std::uint64_t value);
  void attribute(const std::string& path, const std::string& name, std::int64_t value);
  void attribute(const std::string& path, const std::string& name, double value);
  void attribute(const std::string& path, const std::string& name, std::string_view value);
  void attribute(const std::string& path, const std::string& name, const char* value) {
    attribute(path, name, std::string_view(value));
  }

 private:
  void write_described(const std::string& path, const TypeDescription& type, const void* data,
                       std::uint64_t count);
  ResultWriter& writer_;
};

}  // namespace gridmr
