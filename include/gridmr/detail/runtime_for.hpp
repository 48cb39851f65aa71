// JobRuntimeFor<J>: any gridmr::Job as the engine sees it. The map loop and the
// combining tables are compiled here, with the job's types, so that emit()
// inlines into the job's map.
#pragma once

#include <omp.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/detail/runtime.hpp"
#include "gridmr/job.hpp"
#include "gridmr/output.hpp"

namespace gridmr {

namespace detail {

template <class Job>
struct CombineOf {
  typename Job::Value operator()(const typename Job::Value& a, const typename Job::Value& b) const {
    return Job::combine(a, b);
  }
};

}  // namespace detail

// What a job's map calls: emit(key, value). The key is a Word, a
// std::string_view or anything that converts to one; the value is the job's
// Value, or a number it holds without loss.
template <class J>
class Emit {
 public:
  using Value = typename J::Value;
  explicit Emit(KeyTable<Value>& table) : table_(table) {}

  template <class K, class U>
  void operator()(const K& key, U&& value) const {
    static_assert(EmittableAs<U, Value>,
                  "emit(key, value): the value is not of the job's Value type, and converting "
                  "it could lose data (a floating-point number into an integer, say)");
    if constexpr (std::is_same_v<K, PaddedView>) {
      table_.upsert(key, static_cast<Value>(value), detail::CombineOf<J>{});
    } else {
      table_.upsert(std::string_view(key), static_cast<Value>(value), detail::CombineOf<J>{});
    }
  }

 private:
  KeyTable<Value>& table_;
};

// What the two runtimes below share: the plan of a generated job, and the map
// loop: `threads` OpenMP threads take units from `units`, each mapping into its
// own table through the emit that make_emit(table) gives. After a failure the
// rest of the units are drained unmapped (every rank still finishes the
// scheduling), then the first error is thrown.
template <class J>
Plan plan_of(const typename J::Config& config) {
  if constexpr (J::input == Input::kGenerated) {
    return J::plan(config);
  } else {
    return {};
  }
}

template <class J, class Table, class MakeEmit>
void map_units(const typename J::Config& config, const Plan& plan, int threads, UnitSource& units,
               std::vector<Table>& tables, MakeEmit make_emit) {
  tables = std::vector<Table>(threads);
  std::exception_ptr error;
  std::atomic<bool> failed{false};
#pragma omp parallel num_threads(threads)
  {
    MapInput in(plan);
    auto emit = make_emit(tables[omp_get_thread_num()]);
    const bool communicates = omp_get_thread_num() == 0;
    while (const auto unit = units.next(communicates)) {
      if (!failed) {
        try {
          in.set_unit(*unit);
          J::map(config, in, emit);
        } catch (...) {
#pragma omp critical(gridmr_map_error)
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
      units.done(*unit);
    }
  }
  if (error) std::rethrow_exception(error);
}

template <class Table>
std::vector<TableView> views_of(const std::vector<Table>& tables) {
  std::vector<TableView> views;
  for (const auto& table : tables) views.push_back(table.view());
  return views;
}

template <Job J>
class JobRuntimeFor final : public JobRuntime {
 public:
  using Value = typename J::Value;
  explicit JobRuntimeFor(const typename J::Config& config) : config_(config) {}

  const char* name() const override { return J::name; }
  Input input() const override { return J::input; }
  Plan plan() const override { return plan_of<J>(config_); }
  std::size_t value_size() const override { return sizeof(Value); }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_units<J>(config_, plan, threads, units, tables_,
                 [](KeyTable<Value>& table) { return Emit<J>(table); });
  }
  std::vector<TableView> map_tables() const override { return views_of(tables_); }
  void free_map_tables() override { std::vector<KeyTable<Value>>().swap(tables_); }

  void reduce(const char* records, std::size_t size) override {
    for_each_record(records, size, sizeof(Value), [&](std::string_view key, const char* bytes) {
      Value value;
      std::memcpy(&value, bytes, sizeof value);
      reduced_.upsert(key, value, detail::CombineOf<J>{});
    });
  }
  TableView reduced_table() const override { return reduced_.view(); }

  void combine_into(std::byte* into, const std::byte* from) const override {
    Value a, b;
    std::memcpy(&a, into, sizeof a);
    std::memcpy(&b, from, sizeof b);
    a = J::combine(a, b);
    std::memcpy(into, &a, sizeof a);
  }

  void write(Output& out, std::span<const std::string_view> keys,
             std::span<const std::byte* const> values, std::uint64_t total_keys, std::uint64_t,
             const std::byte* total, const Plan& plan) const override {
    std::vector<Value> ordered(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::memcpy(&ordered[i], values[i], sizeof(Value));
    }
    Result<Value> result;
    result.keys = keys;
    result.values = ordered;
    result.total_keys = total_keys;
    if (total != nullptr) std::memcpy(&result.total, total, sizeof(Value));
    result.plan = &plan;
    J::write(out, result, config_);
  }

 private:
  typename J::Config config_;
  std::vector<KeyTable<Value>> tables_;
  KeyTable<Value> reduced_;
};

// What a grouped job's map calls: emit(key, value) adds the value to the key's group.
template <class J>
class GroupEmit {
 public:
  using Element = typename J::Value::element_type;
  explicit GroupEmit(KeyTable<std::uint64_t>& table) : table_(table) {}

  template <class K, class U>
  void operator()(const K& key, U&& value) const {
    static_assert(EmittableAs<U, Element>,
                  "emit(key, value): the value is not of the job's Group element type, and "
                  "converting it could lose data");
    const std::string_view bytes = key;
    buffer_.resize(bytes.size() + sizeof(Element));
    std::memcpy(buffer_.data(), bytes.data(), bytes.size());
    detail::encode_ordered(static_cast<Element>(value), buffer_.data() + bytes.size());
    table_.upsert(std::string_view(buffer_.data(), buffer_.size()), std::uint64_t{1},
                  [](std::uint64_t a, std::uint64_t b) { return a + b; });
  }

 private:
  KeyTable<std::uint64_t>& table_;
  mutable std::string buffer_;  // the key followed by the value's ordered bytes
};

// A grouped job (Value = Group<E>) as the engine sees it: its tables count
// (key, value) pairs, keyed by the key followed by the value's ordered bytes;
// the engine partitions and sorts by the key part, so a key's values stay
// together, in order.
template <Job J>
class GroupedRuntimeFor final : public JobRuntime {
 public:
  using Element = typename J::Value::element_type;
  explicit GroupedRuntimeFor(const typename J::Config& config) : config_(config) {}

  const char* name() const override { return J::name; }
  Input input() const override { return J::input; }
  Plan plan() const override { return plan_of<J>(config_); }
  std::size_t value_size() const override { return sizeof(std::uint64_t); }
  KeyLayout key_layout() const override { return {.suffix = sizeof(Element)}; }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_units<J>(config_, plan, threads, units, tables_,
                 [](KeyTable<std::uint64_t>& table) { return GroupEmit<J>(table); });
  }
  std::vector<TableView> map_tables() const override { return views_of(tables_); }
  void free_map_tables() override { std::vector<KeyTable<std::uint64_t>>().swap(tables_); }

  void reduce(const char* records, std::size_t size) override {
    for_each_record(
        records, size, sizeof(std::uint64_t), [&](std::string_view key, const char* bytes) {
          std::uint64_t count;
          std::memcpy(&count, bytes, sizeof count);
          reduced_.upsert(key, count, [](std::uint64_t a, std::uint64_t b) { return a + b; });
        });
  }
  TableView reduced_table() const override { return reduced_.view(); }
  void combine_into(std::byte* into, const std::byte* from) const override {
    std::uint64_t a, b;
    std::memcpy(&a, into, sizeof a);
    std::memcpy(&b, from, sizeof b);
    a += b;
    std::memcpy(into, &a, sizeof a);
  }

  void write(Output& out, std::span<const std::string_view> keys,
             std::span<const std::byte* const> values, std::uint64_t total_keys,
             std::uint64_t total_groups, const std::byte* total, const Plan& plan) const override {
    std::vector<std::string_view> distinct;
    std::vector<std::uint64_t> sizes, counts(keys.size());
    std::vector<Element> elements(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string_view part = keys[i].substr(0, keys[i].size() - sizeof(Element));
      if (distinct.empty() || distinct.back() != part) {
        distinct.push_back(part);
        sizes.push_back(0);
      }
      ++sizes.back();
      elements[i] = detail::decode_ordered<Element>(keys[i].data() + part.size());
      std::memcpy(&counts[i], values[i], sizeof(std::uint64_t));
    }
    Result<typename J::Value> result;
    result.keys = distinct;
    result.sizes = sizes;
    result.values = elements;
    result.counts = counts;
    result.total_keys = total_groups;
    result.total_values = total_keys;
    if (total != nullptr) std::memcpy(&result.total, total, sizeof result.total);
    result.plan = &plan;
    J::write(out, result, config_);
  }

 private:
  typename J::Config config_;
  std::vector<KeyTable<std::uint64_t>> tables_;
  KeyTable<std::uint64_t> reduced_;
};

// The runtime for job J: grouped or combining, by its Value.
template <Job J>
std::unique_ptr<JobRuntime> make_runtime(const typename J::Config& config) {
  if constexpr (is_group<typename J::Value>::value) {
    return std::make_unique<GroupedRuntimeFor<J>>(config);
  } else {
    return std::make_unique<JobRuntimeFor<J>>(config);
  }
}

}  // namespace gridmr
