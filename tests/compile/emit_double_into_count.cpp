// Must not compile: a job whose Value is a count emits 0.5 (it would store 0).
// With -DGRIDMR_CONTROL it emits 1 and must compile, which shows the test's set-up is sound.
#include <cstdint>
#include <gridmr/gridmr.hpp>

struct Halves {
  static constexpr const char* name = "halves";
  static constexpr const char* description = "emits a fraction into a count";
  static constexpr gridmr::Input input = gridmr::Input::kText;
  using Value = std::uint64_t;
  struct Config {};
  static void options(gridmr::JobOptions&, Config&) {}
  template <class Emit>
  static void map(const Config&, gridmr::MapInput& in, Emit& emit) {
#ifdef GRIDMR_CONTROL
    in.for_each_word([&](gridmr::Word word) { emit(word, 1); });
#else
    in.for_each_word([&](gridmr::Word word) { emit(word, 0.5); });
#endif
  }
  static Value combine(Value a, Value b) { return a + b; }
  static void write(gridmr::Output&, const gridmr::Result<Value>&, const Config&) {}
};

int main(int argc, char** argv) { return gridmr::main<Halves>(argc, argv); }
