// The sizes and counts users type.
#include <doctest/doctest.h>

#include "gridmr/core/sizes.hpp"
#include "gridmr/errors.hpp"

using gridmr::parse_count;
using gridmr::parse_size;

TEST_CASE("sizes accept bytes and binary or decimal units") {
  CHECK(parse_size("4096", "--x") == 4096);
  CHECK(parse_size("64KiB", "--x") == 65536);
  CHECK(parse_size("16MiB", "--x") == 16ull << 20);
  CHECK(parse_size("2GiB", "--x") == 2ull << 30);
  CHECK(parse_size("10MB", "--x") == 10000000);
  CHECK(parse_size(" 1 TiB ", "--x") == 1ull << 40);
}

TEST_CASE("bad sizes are usage errors that name the option") {
  for (const char* bad :
       {"", "0", "-1", "12XB", "MiB", "1.5MiB", "99999999999999999999", "20000000TiB"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_size(bad, "--unit-size"), doctest::Contains("--unit-size"),
                         gridmr::UsageError);
  }
}

TEST_CASE("counts accept whole numbers and scientific notation") {
  CHECK(parse_count("1000000", "--n") == 1000000);
  CHECK(parse_count("1e10", "--n") == 10000000000ull);
  CHECK(parse_count("2.5e9", "--n") == 2500000000ull);
  CHECK(parse_count("1e13", "--n") == 10000000000000ull);
  CHECK(parse_count("18446744073709551615", "--n") == 18446744073709551615ull);
  CHECK(parse_count("0", "--seed", true) == 0);
  CHECK_THROWS_AS(parse_count("-1", "--seed", true), gridmr::UsageError);
  for (const char* bad : {"0", "-5", "1.5", "abc", "1e30", "", "0e5", "nan", "inf"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_count(bad, "--n"), gridmr::UsageError);
  }
}
