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

// A map thread's table and where it goes when full: emit() checks the table's
// size after each new key, and spills it (spill.hpp) once it holds its share
// of --memory.
template <class Table>
class SpillingTable {
 public:
  SpillingTable(Table& table, Spiller* spiller)
      : table_(table),
        spiller_(spiller),
        limit_(spiller != nullptr
                   ? spill_limit(spiller->map_table_bytes(), sizeof(typename Table::Entry))
                   : SIZE_MAX) {}

  Table& table() const { return table_; }
  // New keys the table may take before it is due to spill (at least 1 after check()).
  std::size_t room() const { return limit_ - table_.size(); }
  void check() const {
    if (table_.size() >= limit_) [[unlikely]]
      spill();
  }

 private:
  [[gnu::noinline]] void spill() const {
    spiller_->spill_map(table_.view());
    table_.clear();
  }
  Table& table_;
  Spiller* spiller_;
  std::size_t limit_;
};

// What a job's map calls: emit(key, value). The key is a Word, a
// std::string_view or anything that converts to one; the value is the job's
// Value, or a number it holds without loss.
template <class J>
class Emit {
 public:
  using Value = typename J::Value;
  Emit(KeyTable<Value>& table, Spiller* spiller) : table_(table, spiller) {}

  template <class K, class U>
  void operator()(const K& key, U&& value) const {
    static_assert(EmittableAs<U, Value>,
                  "emit(key, value): the value is not of the job's Value type, and converting "
                  "it could lose data (a floating-point number into an integer, say)");
    if constexpr (std::is_same_v<K, PaddedView>) {
      table_.table().upsert(key, static_cast<Value>(value), detail::CombineOf<J>{});
    } else {
      table_.table().upsert(std::string_view(key), static_cast<Value>(value),
                            detail::CombineOf<J>{});
    }
    table_.check();
  }

  // emit(word, value) for each word b[at[2k], at[2k+1]), k < pairs, in order;
  // each word is padded (a PaddedView). MapInput::emit_each_word's fast path.
  void words(const char* b, const std::uint32_t* at, std::size_t pairs, const Value& value) const {
    for (std::size_t k = 0; k < pairs;) {
      k = table_.table().upsert_words(b, at, k, pairs, value, detail::CombineOf<J>{},
                                      table_.room());
      table_.check();
      if (k < pairs && at[2 * k + 1] - at[2 * k] > KeyTable<Value>::kInlineKey) {
        (*this)(PaddedView{std::string_view(b + at[2 * k], at[2 * k + 1] - at[2 * k])}, value);
        ++k;
      }
    }
  }

 private:
  SpillingTable<KeyTable<Value>> table_;
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

// After a map thread reported a unit done: if a checkpoint is due, brings the
// table up to date (`flush`: a streaming mapper's late output), saves it with
// the thread's units (and the runs it spilled since its last save), and
// empties it. Else, if the table holds more than its share of --memory (long
// keys fill its arena between emit()'s checks), it spills.
template <class Table, class Flush>
void after_unit(UnitSource& units, Table& table, Spiller* spiller, Flush&& flush) {
  if (units.checkpoint_due()) {
    flush();
    units.save_checkpoint(table.view());
    table = Table();
  } else if (spiller != nullptr && table.memory_bytes() > spiller->map_table_bytes()) {
    spiller->spill_map(table.view());
    table.clear();
    // Its slots alone over the share (a table that grew between checks, as a
    // farm's does): they go too, or every later unit would spill, sort and
    // clear them again (a 1M-item farm at --memory 64MiB: 30 s instead of 1).
    if (table.memory_bytes() > spiller->map_table_bytes()) table = Table();
  }
}
template <class Table>
void after_unit(UnitSource& units, Table& table, Spiller* spiller) {
  after_unit(units, table, spiller, [] {});
}

template <class J, class Table, class MakeEmit>
void map_units(const typename J::Config& config, const Plan& plan, int threads, UnitSource& units,
               Spiller* spiller, std::vector<Table>& tables, MakeEmit make_emit) {
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
      if (!failed) {
        try {
          after_unit(units, tables[omp_get_thread_num()], spiller);
        } catch (...) {
#pragma omp critical(gridmr_map_error)
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
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

// What every runtime built on combining key tables shares: one table per map
// thread, the reduced table that the shuffle's rounds fold into, and
// combine_into on value bytes. `Combine` combines two V (default-constructed).
template <class V, class Combine>
class TableRuntime : public JobRuntime {
 public:
  std::size_t value_size() const override { return sizeof(V); }
  std::vector<TableView> map_tables() const override {
    std::vector<TableView> views = views_of(tables_);
    if (restored_.size() > 0) views.push_back(restored_.view());
    return views;
  }
  void free_map_tables() override {
    std::vector<KeyTable<V>>().swap(tables_);
    restored_ = KeyTable<V>();
  }

  // Saved map output goes into a map-side table that spills like a map thread's.
  void restore(const char* records, std::size_t size) override {
    const std::size_t limit =
        spiller_ != nullptr ? spill_limit(spiller_->map_table_bytes(), sizeof(Slot)) : SIZE_MAX;
    fold(restored_, ShortRecords{records, size, 0}, limit,
         [&] { spiller_->spill_restored(restored_.view()); });
  }

  void reduce(const char* records, std::size_t size) override {
    fold(reduced_, ShortRecords{records, size, 0}, reduce_limit(),
         [&] { spiller_->spill_reduce(reduced_.view()); });
  }
  // One rank: the largest map table becomes the reduced table as it is, and
  // the others (more threads, restored output) fold into it, spilling as
  // reduce() does.
  bool reduce_map_tables() override {
    const std::size_t limit = reduce_limit();
    const auto spill = [&] { spiller_->spill_reduce(reduced_.view()); };
    KeyTable<V>* largest = nullptr;
    for (auto& table : tables_) {
      if (largest == nullptr || table.size() > largest->size()) largest = &table;
    }
    if (largest != nullptr) std::swap(reduced_, *largest);  // leaves an empty table there
    if (reduced_.size() >= limit || reduced_.memory_bytes() > fold_bytes(limit)) {
      spill();
      reduced_ = KeyTable<V>();  // a map table's slots are more than the reduce's share
    }
    for (const auto& table : tables_) fold(reduced_, ShortSlots{table.view(), 0}, limit, spill);
    fold(reduced_, ShortSlots{restored_.view(), 0}, limit, spill);
    free_map_tables();
    return true;
  }
  TableView reduced_table() const override { return reduced_.view(); }
  void free_reduced_table() override { reduced_ = KeyTable<V>(); }

  void combine_into(std::byte* into, const std::byte* from) const override {
    V a, b;
    std::memcpy(&a, into, sizeof a);
    std::memcpy(&b, from, sizeof b);
    a = Combine{}(a, b);
    std::memcpy(into, &a, sizeof a);
  }

 protected:
  using Slot = typename KeyTable<V>::Entry;

  std::size_t reduce_limit() const {
    return spiller_ != nullptr ? spill_limit(spiller_->reduce_table_bytes(), sizeof(Slot))
                               : SIZE_MAX;
  }
  // The bytes a table of `limit` keys may take (slots while it grows, long keys).
  static std::size_t fold_bytes(std::size_t limit) {
    return limit == SIZE_MAX ? SIZE_MAX : limit * (4 * sizeof(Slot) + 48);
  }

  // Cursors for fold(), and through it KeyTable::upsert_run: each gives the
  // entries whose keys fit in a slot, with 16 readable bytes from the key on,
  // and stops before any other, which take_one() then upserts alone.
  // more(): whether an entry is left.
  //
  // A shuffle round's records (records.hpp). A short key among the last
  // bytes of the buffer, where a 16-byte read would pass its end, is left too.
  struct ShortRecords {
    const char* data;
    std::size_t size;
    std::size_t at;
    bool more() const { return at < size; }
    bool next(const char*& p, std::size_t& n, V& value) {
      constexpr std::size_t kRoom = sizeof(std::uint32_t) + SlotHeader::kInlineKey + sizeof(V);
      if (size - at < kRoom) return false;
      std::uint32_t length;
      std::memcpy(&length, data + at, sizeof length);
      if (length > SlotHeader::kInlineKey) return false;  // the record is whole: kRoom covers it
      p = data + at + sizeof length;
      n = length;
      std::memcpy(&value, p + length, sizeof value);
      at += sizeof length + length + sizeof value;
      return true;
    }
    std::string_view take_one(KeyTable<V>& table) {
      std::string_view key;
      const char* bytes;
      if (!next_record(data, size, sizeof(V), at, key, bytes)) throw_truncated_records(size, at);
      V value;
      std::memcpy(&value, bytes, sizeof value);
      table.upsert(key, value, Combine{});
      return key;
    }
  };
  // Another table's entries, in slot order: a short key's bytes are its slot's
  // first 16, zero-padded.
  struct ShortSlots {
    TableView table;
    std::size_t at;
    bool more() {
      while (at < table.capacity && table.slot(at).empty()) ++at;
      return at < table.capacity;
    }
    bool next(const char*& p, std::size_t& n, V& value) {
      if (!more()) return false;
      const SlotHeader& slot = table.slot(at);
      n = slot.tag - 1;
      if (n > SlotHeader::kInlineKey) return false;
      p = reinterpret_cast<const char*>(slot.words);
      std::memcpy(&value, table.value(at), sizeof value);
      ++at;
      return true;
    }
    std::string_view take_one(KeyTable<V>& into) {
      V value;
      std::memcpy(&value, table.value(at), sizeof value);
      const std::string_view key = table.slot(at++).key();
      into.upsert(key, value, Combine{});
      return key;
    }
  };

  // Folds what `run` gives into `table`; whenever it holds `limit` keys, or
  // its long keys outgrow what that many slots would take, spill() and empty
  // it. Runs of short keys go through upsert_run (which prefetches in a large
  // table).
  template <class Run, class Spill>
  static void fold(KeyTable<V>& table, Run run, std::size_t limit, Spill&& spill) {
    const std::size_t bytes = fold_bytes(limit);
    if (table.size() >= limit && run.more()) {  // full already (upsert_run needs room for one)
      spill();
      table.clear();
    }
    while (run.more()) {
      const std::size_t from = run.at;
      table.upsert_run(run, Combine{}, limit - table.size());
      std::string_view key;
      if (run.at == from) key = run.take_one(table);  // an entry upsert_run leaves
      if (table.size() >= limit ||
          (key.size() > SlotHeader::kInlineKey && table.memory_bytes() > bytes)) [[unlikely]] {
        spill();
        table.clear();
      }
    }
  }

  std::vector<KeyTable<V>> tables_;  // one per map thread
  KeyTable<V> restored_;             // map output saved by an interrupted run
  KeyTable<V> reduced_;
};

// Counts (of grouped pairs, of collected values) add up.
struct AddCounts {
  std::uint64_t operator()(std::uint64_t a, std::uint64_t b) const { return a + b; }
};

namespace detail {

// Copies strings into a batch and hands out views of them (valid until the
// next batch): at most n strings, and no more once the batch holds 1 MiB.
class StringBatch {
 public:
  void clear() {
    bytes_.clear();
    ends_.clear();
  }
  bool full(std::size_t n) const { return ends_.size() >= n || bytes_.size() >= (1u << 20); }
  void add(std::string_view s) {
    bytes_.append(s);
    ends_.push_back(bytes_.size());
  }
  std::size_t views(std::string_view* out) const {
    std::size_t start = 0;
    for (std::size_t i = 0; i < ends_.size(); ++i) {
      out[i] = std::string_view(bytes_).substr(start, ends_[i] - start);
      start = ends_[i];
    }
    return ends_.size();
  }

 private:
  std::string bytes_;
  std::vector<std::size_t> ends_;
};

// The columns of a spilled result, read from the engine's pairs: keys are
// copied out a batch at a time (at most 1 MiB, or one longer key).
class SpilledKeys final : public ColumnReader<std::string_view> {
 public:
  explicit SpilledKeys(const PairSource& pairs) : cursor_(pairs.open()) {}
  std::size_t read(std::string_view* out, std::size_t n) override {
    batch_.clear();
    std::string_view key;
    const std::byte* value;
    while (!batch_.full(n) && cursor_->next(key, value)) batch_.add(key);
    return batch_.views(out);
  }

 private:
  std::unique_ptr<PairSource::Cursor> cursor_;
  StringBatch batch_;
};

template <class V>
class SpilledValues final : public ColumnReader<V> {
 public:
  explicit SpilledValues(const PairSource& pairs) : cursor_(pairs.open()) {}
  std::size_t read(V* out, std::size_t n) override {
    std::string_view key;
    const std::byte* value;
    std::size_t i = 0;
    for (; i < n && cursor_->next(key, value); ++i) std::memcpy(&out[i], value, sizeof(V));
    return i;
  }

 private:
  std::unique_ptr<PairSource::Cursor> cursor_;
};

// Spilled pairs whose table keys are a key part and more (`layout`): a
// grouped job's key followed by one value's ordered bytes, or a streaming
// job's escaped key followed by a value; each value is a count.
class GroupCursor {
 public:
  GroupCursor(const PairSource& pairs, const KeyLayout& layout)
      : cursor_(pairs.open()), layout_(layout) {}
  bool next() {
    if (!cursor_->next(key_, value_)) return false;
    part_ = layout_.part(key_);
    return true;
  }
  std::string_view part() const { return part_; }
  std::string_view rest() const { return key_.substr(part_.size()); }
  std::string_view key() const { return key_; }
  const std::byte* value() const { return value_; }
  std::uint64_t count() const {
    std::uint64_t n;
    std::memcpy(&n, value_, sizeof n);
    return n;
  }

 private:
  std::unique_ptr<PairSource::Cursor> cursor_;
  KeyLayout layout_;
  std::string_view key_, part_;
  const std::byte* value_ = nullptr;
};

// The distinct key parts (unescaped, for a streaming job's terminated keys).
class SpilledGroupKeys final : public ColumnReader<std::string_view> {
 public:
  SpilledGroupKeys(const PairSource& pairs, const KeyLayout& layout, bool unescape = false)
      : in_(pairs, layout), unescape_(unescape) {}
  std::size_t read(std::string_view* out, std::size_t n) override {
    batch_.clear();
    while (!batch_.full(n) && in_.next()) {
      if (started_ && in_.part() == last_) continue;
      started_ = true;
      last_.assign(in_.part());
      if (unescape_) {
        batch_.add(unescape_key(last_));
      } else {
        batch_.add(last_);
      }
    }
    return batch_.views(out);
  }

 private:
  GroupCursor in_;
  bool unescape_;
  bool started_ = false;
  std::string last_;
  StringBatch batch_;
};

// What follows each key part, pair after pair (a streaming job's values).
class SpilledRests final : public ColumnReader<std::string_view> {
 public:
  SpilledRests(const PairSource& pairs, const KeyLayout& layout) : in_(pairs, layout) {}
  std::size_t read(std::string_view* out, std::size_t n) override {
    batch_.clear();
    while (!batch_.full(n) && in_.next()) batch_.add(in_.rest());
    return batch_.views(out);
  }

 private:
  GroupCursor in_;
  StringBatch batch_;
};

// How many pairs each key part has.
class SpilledGroupSizes final : public ColumnReader<std::uint64_t> {
 public:
  SpilledGroupSizes(const PairSource& pairs, const KeyLayout& layout) : in_(pairs, layout) {}
  std::size_t read(std::uint64_t* out, std::size_t n) override {
    std::size_t i = 0;
    while (i < n && !ended_) {
      if (!in_.next()) {
        ended_ = true;
        if (size_ > 0) out[i++] = size_;
      } else if (size_ > 0 && in_.part() == last_) {
        ++size_;
      } else {
        if (size_ > 0) out[i++] = size_;
        last_.assign(in_.part());
        size_ = 1;
      }
    }
    return i;
  }

 private:
  GroupCursor in_;
  bool ended_ = false;
  std::string last_;
  std::uint64_t size_ = 0;  // pairs of the key part `last_` so far
};

// One element per pair, element(cursor) each: a grouped job's values
// (pair_value) or how often each pair came (pair_count).
template <class T, T (*element)(const GroupCursor&)>
class SpilledPerPair final : public ColumnReader<T> {
 public:
  SpilledPerPair(const PairSource& pairs, const KeyLayout& layout) : in_(pairs, layout) {}
  std::size_t read(T* out, std::size_t n) override {
    std::size_t i = 0;
    for (; i < n && in_.next(); ++i) out[i] = element(in_);
    return i;
  }

 private:
  GroupCursor in_;
};
template <class E>
E pair_value(const GroupCursor& in) {
  return decode_ordered<E>(in.rest().data());
}
inline std::uint64_t pair_count(const GroupCursor& in) { return in.count(); }
template <class E>
using SpilledGroupValues = SpilledPerPair<E, pair_value<E>>;
using SpilledGroupCounts = SpilledPerPair<std::uint64_t, pair_count>;

}  // namespace detail

template <Job J>
class JobRuntimeFor final : public TableRuntime<typename J::Value, detail::CombineOf<J>> {
 public:
  using Value = typename J::Value;
  explicit JobRuntimeFor(const typename J::Config& config) : config_(config) {}

  const char* name() const override { return J::name; }
  Input input() const override { return J::input; }
  Plan plan() const override { return plan_of<J>(config_); }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_units<J>(config_, plan, threads, units, this->spiller_, this->tables_,
                 [this](KeyTable<Value>& table) { return Emit<J>(table, this->spiller_); });
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
    result.values = std::span<const Value>(ordered);
    result.total_keys = total_keys;
    if (total != nullptr) std::memcpy(&result.total, total, sizeof(Value));
    result.plan = &plan;
    J::write(out, result, config_);
  }

  bool writes_spilled() const override { return true; }
  void write_spilled(Output& out, const PairSource& pairs, std::uint64_t total_keys, std::uint64_t,
                     const std::byte* total, const Plan& plan) const override {
    Result<Value> result;
    result.keys = Column<std::string_view>(
        pairs.size(), [&pairs] { return std::make_unique<detail::SpilledKeys>(pairs); },
        pairs.key_bytes());
    result.values = Column<Value>(
        pairs.size(), [&pairs] { return std::make_unique<detail::SpilledValues<Value>>(pairs); });
    result.total_keys = total_keys;
    if (total != nullptr) std::memcpy(&result.total, total, sizeof(Value));
    result.plan = &plan;
    J::write(out, result, config_);
  }

 private:
  typename J::Config config_;
};

// What a grouped job's map calls: emit(key, value) adds the value to the key's group.
template <class J>
class GroupEmit {
 public:
  using Element = typename J::Value::element_type;
  GroupEmit(KeyTable<std::uint64_t>& table, Spiller* spiller) : table_(table, spiller) {}

  template <class K, class U>
  void operator()(const K& key, U&& value) const {
    static_assert(EmittableAs<U, Element>,
                  "emit(key, value): the value is not of the job's Group element type, and "
                  "converting it could lose data");
    const std::string_view bytes = key;
    buffer_.resize(bytes.size() + sizeof(Element));
    std::memcpy(buffer_.data(), bytes.data(), bytes.size());
    detail::encode_ordered(static_cast<Element>(value), buffer_.data() + bytes.size());
    table_.table().upsert(std::string_view(buffer_.data(), buffer_.size()), std::uint64_t{1},
                          AddCounts{});
    table_.check();
  }

 private:
  SpillingTable<KeyTable<std::uint64_t>> table_;
  mutable std::string buffer_;  // the key followed by the value's ordered bytes
};

// A grouped job (Value = Group<E>) as the engine sees it: its tables count
// (key, value) pairs, keyed by the key followed by the value's ordered bytes;
// the engine partitions and sorts by the key part, so a key's values stay
// together, in order.
template <Job J>
class GroupedRuntimeFor final : public TableRuntime<std::uint64_t, AddCounts> {
 public:
  using Element = typename J::Value::element_type;
  explicit GroupedRuntimeFor(const typename J::Config& config) : config_(config) {}

  const char* name() const override { return J::name; }
  Input input() const override { return J::input; }
  Plan plan() const override { return plan_of<J>(config_); }
  KeyLayout key_layout() const override { return {.suffix = sizeof(Element)}; }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_units<J>(
        config_, plan, threads, units, this->spiller_, this->tables_,
        [this](KeyTable<std::uint64_t>& table) { return GroupEmit<J>(table, this->spiller_); });
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
    result.keys = std::span<const std::string_view>(distinct);
    result.sizes = std::span<const std::uint64_t>(sizes);
    result.values = std::span<const Element>(elements);
    result.counts = std::span<const std::uint64_t>(counts);
    result.total_keys = total_groups;
    result.total_values = total_keys;
    if (total != nullptr) std::memcpy(&result.total, total, sizeof result.total);
    result.plan = &plan;
    J::write(out, result, config_);
  }

  bool writes_spilled() const override { return true; }
  void write_spilled(Output& out, const PairSource& pairs, std::uint64_t total_keys,
                     std::uint64_t total_groups, const std::byte* total,
                     const Plan& plan) const override {
    const KeyLayout layout = key_layout();
    // A first pass: how many distinct key parts, and their bytes.
    std::uint64_t groups = 0, group_bytes = 0;
    {
      detail::GroupCursor in(pairs, layout);
      std::string last;
      while (in.next()) {
        if (groups > 0 && in.part() == last) continue;
        ++groups;
        group_bytes += in.part().size();
        last.assign(in.part());
      }
    }
    Result<typename J::Value> result;
    result.keys = Column<std::string_view>(
        groups,
        [&pairs, layout] { return std::make_unique<detail::SpilledGroupKeys>(pairs, layout); },
        group_bytes);
    result.sizes = Column<std::uint64_t>(groups, [&pairs, layout] {
      return std::make_unique<detail::SpilledGroupSizes>(pairs, layout);
    });
    result.values = Column<Element>(pairs.size(), [&pairs] {
      return std::make_unique<detail::SpilledGroupValues<Element>>(
          pairs, KeyLayout{.suffix = sizeof(Element)});
    });
    result.counts = Column<std::uint64_t>(pairs.size(), [&pairs, layout] {
      return std::make_unique<detail::SpilledGroupCounts>(pairs, layout);
    });
    result.total_keys = total_groups;
    result.total_values = total_keys;
    if (total != nullptr) std::memcpy(&result.total, total, sizeof result.total);
    result.plan = &plan;
    J::write(out, result, config_);
  }

 private:
  typename J::Config config_;
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
