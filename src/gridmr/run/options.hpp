// The options every job shares, as the command line set them.
#pragma once

#include <cstdint>
#include <string>

namespace gridmr {

enum class Schedule { kDynamic, kStatic };

struct EngineOptions {
  std::string output;                    // OUT.h5
  int threads = 0;                       // 0: Cluster::default_threads()
  std::uint64_t unit_size = 16ull << 20;
  std::uint64_t memory = 1ull << 30;     // per rank, bounds a shuffle round
  Schedule schedule = Schedule::kDynamic;
  bool force = false;
  bool quiet = false;
  bool stats = false;
  std::string command_line;
};

}  // namespace gridmr
