// JobRuntimeFor<J>: any gridmr::Job as the engine sees it. The map loop and the
// combining tables are compiled here, with the job's types, so that emit()
// inlines into the job's map.
#pragma once

#include <omp.h>

#include <atomic>
#include <cstring>
#include <exception>
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

template <Job J>
class JobRuntimeFor final : public JobRuntime {
 public:
  using Value = typename J::Value;
  explicit JobRuntimeFor(const typename J::Config& config) : config_(config) {}

  const char* name() const override { return J::name; }
  Input input() const override { return J::input; }
  Plan plan() const override {
    if constexpr (J::input == Input::kGenerated) {
      return J::plan(config_);
    } else {
      return {};
    }
  }
  std::size_t value_size() const override { return sizeof(Value); }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    tables_ = std::vector<KeyTable<Value>>(threads);
    std::exception_ptr error;
    std::atomic<bool> failed{false};
#pragma omp parallel num_threads(threads)
    {
      KeyTable<Value>& table = tables_[omp_get_thread_num()];
      MapInput in(plan);
      Emit<J> emit(table);
      const bool communicates = omp_get_thread_num() == 0;
      while (const auto unit = units.next(communicates)) {
        if (!failed) {
          try {
            in.set_unit(*unit);
            J::map(config_, in, emit);
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

  std::vector<TableView> map_tables() const override {
    std::vector<TableView> views;
    for (const auto& table : tables_) views.push_back(table.view());
    return views;
  }
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
             std::span<const std::byte* const> values, std::uint64_t total_keys,
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

}  // namespace gridmr
