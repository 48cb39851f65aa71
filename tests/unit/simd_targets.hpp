// Runs a check under every SIMD target this CPU supports, so that each kernel
// is held to the portable code it must agree with (not just the best one).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "gridmr/simd/kernels.hpp"

template <class F>
void for_each_simd_target(F&& check) {
  for (const std::string& target : gridmr::simd::targets_supported()) {
    gridmr::simd::choose_target(target);
    CAPTURE(target);
    REQUIRE(gridmr::simd::target_in_use() == target);
    check();
  }
  gridmr::simd::choose_target("");
}
