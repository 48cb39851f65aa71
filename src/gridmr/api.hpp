// The public API a job is written against: its map sees a MapInput and emits
// (key, value) pairs; the engine does the rest. See jobs/ for examples.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gridmr/input/plan.hpp"
#include "gridmr/input/text_reader.hpp"
#include "gridmr/output/result_writer.hpp"
#include "gridmr/run/options.hpp"
#include "gridmr/run/result.hpp"

namespace gridmr {

// A word of a text unit: a view that may be read a little past its end, which
// lets the combining table load short keys whole (see PaddedView).
using Word = PaddedView;

// What a job's map sees of one work unit. One per map thread, reused across units.
class MapInput {
 public:
  explicit MapInput(const Plan& plan) : plan_(plan) {}

  const WorkUnit& unit() const { return unit_; }
  // The file a text unit belongs to.
  const std::string& path() const { return plan_.sources[unit_.source]; }

  // Calls f(Word) for every word that starts in this unit (DESIGN.md's rule).
  template <class F>
  void for_each_word(F&& f) {
    reader_.for_each_word(path(), unit_, f);
  }

  void set_unit(const WorkUnit& unit) { unit_ = unit; }

 private:
  const Plan& plan_;
  WorkUnit unit_;
  TextReader reader_;
};

// An 8-byte big-endian key: bytewise order equals numeric order, so results
// keyed by unit id come out in unit order.
struct OrderedKey {
  char bytes[8];
  operator std::string_view() const { return {bytes, sizeof bytes}; }
};
inline OrderedKey ordered_key(std::uint64_t value) {
  OrderedKey key;
  for (int i = 7; i >= 0; --i, value >>= 8) key.bytes[i] = static_cast<char>(value & 0xff);
  return key;
}

// A job is a type with these members (jobs/wordcount.hpp is the model):
//   static constexpr const char* name;                     // HDF5 group and subcommand
//   struct Config;                                         // its own options
//   static Plan plan(const Config&, const EngineOptions&); // rank 0 only
//   template <class Emit>
//   static void map(const Config&, MapInput&, Emit& emit); // emit(key, value)
//   static std::uint64_t combine(std::uint64_t, std::uint64_t);  // associative, commutative
//   static void write(ResultWriter&, const Result&, const Plan&, const Config&);
template <class J>
concept Job = requires(const typename J::Config& config, const EngineOptions& options,
                       const Plan& plan, MapInput& in, ResultWriter& out, const Result& result) {
  { J::name } -> std::convertible_to<const char*>;
  { J::plan(config, options) } -> std::same_as<Plan>;
  { J::combine(std::uint64_t{}, std::uint64_t{}) } -> std::same_as<std::uint64_t>;
  J::write(out, result, plan, config);
};

}  // namespace gridmr
