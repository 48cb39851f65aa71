// What a job is: the type a user writes, and what its map sees of a work unit.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "gridmr/detail/padded_view.hpp"
#include "gridmr/detail/text_reader.hpp"
#include "gridmr/options.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/value.hpp"

namespace gridmr {

// Where a job's work units come from.
enum class Input {
  kText,       // INPUT... files and directories, cut into units of --unit-size at any byte;
               // the map reads words or lines, each belonging to the unit where it starts
  kFiles,      // INPUT... files and directories, one unit per file (empty files too)
  kGenerated,  // no input files: the job's plan() makes the units (plan_range)
};

// A word of a text unit: a view that may be read a little past its end, which
// lets the combining table load short keys whole (see PaddedView). Emit it as
// it is: converting it to a std::string costs an allocation per word.
using Word = PaddedView;

// What a job's map sees of one work unit. One per map thread, reused across units.
class MapInput {
 public:
  explicit MapInput(const Plan& plan) : plan_(plan) {}

  const WorkUnit& unit() const { return unit_; }
  // Input jobs: the unit's file and its index in the plan's sorted file list.
  const std::string& path() const { return plan_.sources[unit_.source]; }
  std::uint64_t file_index() const { return unit_.source; }

  // Calls f(Word) for every word that starts in this unit (docs/records.md).
  template <class F>
  void for_each_word(F&& f) {
    reader_.for_each_word(path(), unit_, f);
  }
  // emit(word, value) for every word that starts in this unit, in order: the
  // same as for_each_word([&](Word w) { emit(w, value); }), and with the
  // engine's emit a tighter loop: KeyTable::upsert_words over each chunk's
  // words (a word count's map takes 22% less time: bench/ab_map.sh).
  template <class Emit, class V>
  void emit_each_word(Emit& emit, const V& value) {
    if constexpr (requires(const char* b, const std::uint32_t* at) {
                    emit.words(b, at, std::size_t{}, value);
                  }) {
      reader_.for_each_word(
          path(), unit_, [&](Word word) { emit(word, value); },
          [&](const char* b, const std::uint32_t* at, std::size_t pairs) {
            emit.words(b, at, pairs, value);
          });
    } else {
      reader_.for_each_word(path(), unit_, [&](Word word) { emit(word, value); });
    }
  }
  // Calls f(std::string_view line) for every line that starts in this unit,
  // without its newline (docs/records.md).
  template <class F>
  void for_each_line(F&& f) {
    reader_.for_each_line(path(), unit_, f);
  }
  // The unit's bytes as they are: with Input::kFiles, the whole file. Valid
  // until the next call.
  std::string_view contents() { return reader_.read_all(path(), unit_); }
  // Generated units: calls f(i) for every index i in [begin, end).
  template <class F>
  void for_each_index(F&& f) const {
    for (std::uint64_t i = unit_.begin; i < unit_.end; ++i) f(i);
  }

  void set_unit(const WorkUnit& unit) { unit_ = unit; }

 private:
  const Plan& plan_;
  WorkUnit unit_;
  TextReader reader_;
};

// An 8-byte big-endian key: bytewise order equals numeric order, so results
// keyed by a number (a unit, a parameter index) come out in numeric order.
struct OrderedKey {
  char bytes[8];
  operator std::string_view() const { return {bytes, sizeof bytes}; }
};
inline OrderedKey ordered_key(std::uint64_t value) {
  OrderedKey key;
  for (int i = 7; i >= 0; --i, value >>= 8) key.bytes[i] = static_cast<char>(value & 0xff);
  return key;
}

class Output;
template <class V>
struct Result;

// A job is a type with these members (docs/job-api.md; jobs/wordcount.hpp is a model):
//   static constexpr const char* name;         // subcommand and HDF5 group
//   static constexpr const char* description;  // one line for --help
//   static constexpr gridmr::Input input;      // where units come from
//   using Value = ...;                         // what map emits per key: a gridmr::Value,
//                                              // or gridmr::Group<E> (all values per key)
//   struct Config { ... };                     // its own options, defaults stated here
//   static void options(JobOptions&, Config&); // binds them to the command line
//   static Plan plan(const Config&);           // Input::kGenerated only
//   static void map(const Config&, MapInput&, auto& emit);   // emit(key, value)
//   static Value combine(const Value&, const Value&);        // associative, commutative
//                                                            // (not for a Group)
//   static void write(Output&, const Result<Value>&, const Config&);
// and optionally
//   static void show(const ResultFile&, std::size_t top, std::FILE*);  // for `show`
template <class J>
concept JobBasics = std::default_initializable<typename J::Config> &&
    requires(typename J::Config& config, JobOptions& options) {
  { J::name } -> std::convertible_to<const char*>;
  { J::description } -> std::convertible_to<const char*>;
  { J::input } -> std::convertible_to<Input>;
  J::options(options, config);
} &&(J::input != Input::kGenerated || requires(const typename J::Config& c) {
  { J::plan(c) } -> std::same_as<Plan>;
});

// A job whose values combine: one Value per key.
template <class J>
concept CombiningJob = JobBasics<J> && Value<typename J::Value> &&
    requires(const typename J::Config& config, const typename J::Value& v, Output& out,
             const Result<typename J::Value>& result) {
  { J::combine(v, v) } -> std::same_as<typename J::Value>;
  J::write(out, result, config);
};

// A grouped job: Value = Group<E>, every key keeps all its values (no combine).
template <class J>
concept GroupedJob = JobBasics<J> && is_group<typename J::Value>::value &&
    requires(const typename J::Config& config, Output& out,
             const Result<typename J::Value>& result) {
  J::write(out, result, config);
};

template <class J>
concept Job = CombiningJob<J> || GroupedJob<J>;

}  // namespace gridmr
