// What a job's write() gets: its sorted result, and the file to write it into.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "gridmr/plan.hpp"
#include "gridmr/value.hpp"

namespace gridmr {

class ResultWriter;

// Reads a column that is not in memory, in order, a piece at a time.
template <class T>
class ColumnReader {
 public:
  virtual ~ColumnReader() = default;
  // Up to n next elements into out; 0 at the end. Strings (std::string_view)
  // stay valid until the next call.
  virtual std::size_t read(T* out, std::size_t n) = 0;
};

// A ColumnReader's elements one at a time, read 256 at a time. A string
// stays valid until next() reads the following batch.
template <class T>
class ColumnCursor {
 public:
  explicit ColumnCursor(std::unique_ptr<ColumnReader<T>> in) : in_(std::move(in)) {}
  bool next(T& item) {
    if (at_ == size_) {
      size_ = in_->read(batch_, kBatch);
      at_ = 0;
      if (size_ == 0) return false;
    }
    item = batch_[at_++];
    return true;
  }

 private:
  static constexpr std::size_t kBatch = 256;
  std::unique_ptr<ColumnReader<T>> in_;
  T batch_[kBatch];
  std::size_t size_ = 0, at_ = 0;
};

[[noreturn]] void throw_column_not_in_memory();

// A column of this rank's result, in key order: in memory, or read from the
// scratch folder in pieces when the result did not fit in --memory (then only
// size(), for_each() and reader() work: pass it to Output as it is).
template <class T>
class Column {
 public:
  using Open = std::function<std::unique_ptr<ColumnReader<T>>()>;

  Column() = default;
  Column(std::span<const T> items) : items_(items), size_(items.size()) {}  // NOLINT: implicit
  Column(std::uint64_t size, Open open, std::uint64_t bytes = 0)
      : size_(size), open_(std::move(open)), bytes_(bytes) {}

  std::uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool in_memory() const { return !open_; }
  // In memory only (else a run failure naming the cause).
  std::span<const T> span() const {
    if (!in_memory()) throw_column_not_in_memory();
    return items_;
  }
  const T& operator[](std::size_t i) const { return span()[i]; }
  auto begin() const { return span().begin(); }
  auto end() const { return span().end(); }
  operator std::span<const T>() const { return span(); }  // NOLINT: implicit

  // f(const T&) for every element, in order.
  template <class F>
  void for_each(F&& f) const {
    if (in_memory()) {
      for (const T& item : items_) f(item);
      return;
    }
    ColumnCursor<T> in(open_());
    for (T item; in.next(item);) f(item);
  }
  // Not in memory: a reader from the first element.
  std::unique_ptr<ColumnReader<T>> reader() const { return open_(); }
  // Strings not in memory: the bytes of all of them.
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::span<const T> items_;
  std::uint64_t size_ = 0;
  Open open_;
  std::uint64_t bytes_ = 0;
};

// This rank's part of the reduced result. Rank r holds the keys of a range
// that comes right after rank r-1's, so writing every rank's part in rank
// order gives one list sorted by key bytes.
template <class V>
struct Result {
  Column<std::string_view> keys;  // this rank's keys, ascending by bytes
  Column<V> values;               // values[i] belongs to keys[i]
  std::uint64_t total_keys = 0;   // over all ranks
  V total{};                      // combine() over every value of every rank
  const Plan* plan = nullptr;     // files (sources), input bytes, units
};

// A grouped job's part of the result on this rank: its keys, and for each key
// its distinct values in ascending order with how often each was emitted.
template <class E>
struct Result<Group<E>> {
  Column<std::string_view> keys;   // this rank's keys, ascending by bytes
  Column<std::uint64_t> sizes;     // sizes[i]: distinct values of keys[i]
  Column<E> values;                // the keys' values, key after key, each ascending
  Column<std::uint64_t> counts;    // counts[j]: how often values[j] was emitted for its key
  std::uint64_t total_keys = 0;    // over all ranks
  std::uint64_t total_values = 0;  // distinct (key, value) pairs over all ranks
  std::uint64_t total = 0;         // emitted pairs over all ranks
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
  void write_keys(const std::string& group, const Column<std::string_view>& keys);
  void write_keys(const std::string& group, std::span<const std::string_view> keys);

  // A CSR offsets dataset (uint64, n+1 entries, first 0) for every rank's
  // list `sizes`, in rank order: entry i+1 - entry i = size i. With a values
  // dataset written by write(), list i is values[offsets[i] : offsets[i+1]].
  void write_offsets(const std::string& path, std::span<const std::uint64_t> sizes);
  void write_offsets(const std::string& path, const Column<std::uint64_t>& sizes);

  // `group`/offsets and `group`/data for a list that every rank passes alike
  // (the input files, say): stored once.
  void write_list(const std::string& group, std::span<const std::string> items);

  // A 1-D dataset of every rank's `values`: native numbers, arrays, or
  // compound types for structs (their `fields`).
  template <Value V>
  void write(const std::string& path, std::span<const V> values) {
    write_described(path, *describe<V>(), values.data(), values.size());
  }
  template <Value V>
  void write(const std::string& path, const Column<V>& values) {
    if (values.in_memory()) {
      write(path, values.span());
      return;
    }
    write_streamed(path, *describe<V>(), values.size(), [&] {
      return [in = std::shared_ptr<ColumnReader<V>>(values.reader())](void* out, std::size_t n) {
        return in->read(static_cast<V*>(out), n);
      };
    });
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
  // Reads the next elements into a buffer: (out, at most n) -> how many.
  using Fill = std::function<std::size_t(void* out, std::size_t n)>;
  void write_described(const std::string& path, const TypeDescription& type, const void* data,
                       std::uint64_t count);
  void write_streamed(const std::string& path, const TypeDescription& type, std::uint64_t count,
                      const std::function<Fill()>& open);
  ResultWriter& writer_;
};

}  // namespace gridmr
