// Planning: inputs expanded into files, files cut into units that cover every byte once.
#include <doctest/doctest.h>

#include <filesystem>

#include "gridmr/errors.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/runtime/cluster.hpp"
#include "gridmr/runtime/spare_cores.hpp"
#include "gridmr/scatter/schedule.hpp"
#include "gridmr/scatter/scheduler.hpp"
#include "temp_dir.hpp"

using gridmr::Plan;
using gridmr::WorkUnit;

TEST_CASE("units cover every byte of every file exactly once") {
  for (std::uint64_t size : {0ull, 1ull, 999ull, 1000ull, 1001ull, 123457ull}) {
    for (std::uint64_t unit : {1ull, 7ull, 1000ull, 1ull << 24}) {
      CAPTURE(size);
      CAPTURE(unit);
      std::vector<WorkUnit> units;
      gridmr::cut_into_units(3, size, unit, units);
      std::uint64_t next = 0;
      for (const WorkUnit& u : units) {
        CHECK(u.source == 3);
        CHECK(u.begin == next);
        CHECK(u.end > u.begin);
        CHECK(u.end - u.begin <= unit);
        next = u.end;
      }
      CHECK(next == size);
    }
  }
}

TEST_CASE("directories are walked recursively, in byte order of their paths") {
  TempDir dir;
  dir.write("tree/b.txt", "bb");
  dir.write("tree/a/z.txt", "zzz");
  dir.write("tree/a/deeper/y.txt", "y");
  dir.write("tree/empty.txt", "");
  const std::string single = dir.write("single.txt", "0123456789");
  const Plan plan = gridmr::plan_files({(dir.path / "tree").string(), single}, 4);
  const std::string tree = (dir.path / "tree").string();
  CHECK(plan.sources == std::vector<std::string>{tree + "/a/deeper/y.txt", tree + "/a/z.txt",
                                                 tree + "/b.txt", tree + "/empty.txt", single});
  CHECK(plan.total_bytes == 16);
  CHECK(plan.units.size() == 1 + 1 + 1 + 0 + 3);  // the empty file has no unit
}

TEST_CASE("a missing input, an empty directory and a special file are usage errors") {
  TempDir dir;
  std::filesystem::create_directories(dir.path / "empty/inner");
  CHECK_THROWS_WITH_AS(gridmr::plan_files({(dir.path / "nope.txt").string()}, 1024),
                       doctest::Contains("No such file or directory"), gridmr::UsageError);
  CHECK_THROWS_WITH_AS(gridmr::plan_files({(dir.path / "empty").string()}, 1024),
                       doctest::Contains("no input files in directory"), gridmr::UsageError);
  CHECK_THROWS_AS(gridmr::plan_files({"/dev/null"}, 1024), gridmr::UsageError);
  CHECK_THROWS_AS(gridmr::plan_files({}, 1024), gridmr::UsageError);
}

TEST_CASE("a symlink loop in a directory does not hang the walk") {
  TempDir dir;
  dir.write("loop/a.txt", "a");
  std::filesystem::create_directory_symlink(dir.path / "loop", dir.path / "loop/again");
  const Plan plan = gridmr::plan_files({(dir.path / "loop").string()}, 1024);
  CHECK(plan.sources.size() == 1);
}

TEST_CASE("the static schedule gives contiguous shares balanced by bytes") {
  std::vector<WorkUnit> units;
  for (std::uint64_t i = 0; i < 100; ++i) units.push_back({0, i * 10, i * 10 + 10});
  for (int ranks : {1, 2, 3, 7, 150}) {
    CAPTURE(ranks);
    const auto bounds = gridmr::static_shares(units, ranks);
    REQUIRE(bounds.size() == static_cast<std::size_t>(ranks) + 1);
    CHECK(bounds.front() == 0);
    CHECK(bounds.back() == units.size());
    for (int r = 0; r < ranks; ++r) {
      CHECK(bounds[r] <= bounds[r + 1]);
      if (ranks <= 100) CHECK(bounds[r + 1] - bounds[r] <= 100 / ranks + 1);
    }
  }
  CHECK(gridmr::static_shares({}, 3) == std::vector<std::size_t>{0, 0, 0, 0});
}

TEST_CASE("a sample space of 1e13 samples plans 64-bit ranges that cover it exactly") {
  const Plan plan = gridmr::plan_range(10'000'000'000'000ull, 1ull << 24, "samples");
  CHECK(plan.total_units == 596047);
  CHECK(plan.units.front() == WorkUnit{0, 0, 1ull << 24});
  CHECK(plan.units.back().source == 596046);
  CHECK(plan.units.back().end == 10'000'000'000'000ull);
  CHECK(plan.total_bytes == 10'000'000'000'000ull);
  CHECK_THROWS_AS(gridmr::plan_range(1ull << 62, 1), gridmr::UsageError);  // too many units
}

TEST_CASE("guided batches hand out every unit exactly once, at least one at a time") {
  for (std::size_t total : {0ul, 1ul, 2ul, 7ul, 1000ul, 100000ul}) {
    for (int ranks : {1, 2, 3, 64}) {
      std::size_t remaining = total, handed = 0, batches = 0;
      while (remaining > 0) {
        const std::size_t batch = std::min(remaining, gridmr::batch_size(remaining, ranks));
        CHECK(batch >= 1);
        handed += batch;
        remaining -= batch;
        ++batches;
      }
      CHECK(handed == total);
      CHECK(batches <= total);
    }
  }
  CHECK(gridmr::batch_size(1000, 2) == 250);  // half of what is left, shared among the ranks
}

TEST_CASE("a map thread with no units left lends its core to decoders until the map ends") {
  using gridmr::SpareCores;
  SpareCores::lend();  // left from before: the scheduler starts with none
  {
    gridmr::Scheduler units(MPI_COMM_SELF, gridmr::Schedule::kStatic, {WorkUnit{0, 0, 100}}, 2,
                            false, nullptr, nullptr);
    CHECK_FALSE(SpareCores::borrow());
    const auto unit = units.next(false);
    REQUIRE(unit);
    CHECK_FALSE(SpareCores::borrow());  // both threads map (or may)
    CHECK_FALSE(units.next(false));     // none left for the other thread: it lends its core
    CHECK(SpareCores::borrow());
    CHECK_FALSE(SpareCores::borrow());
    SpareCores::give_back();
    units.done(*unit);
    CHECK_FALSE(units.next(true));  // the last thread is done too
    CHECK(SpareCores::borrow());
    CHECK(SpareCores::borrow());
    CHECK_FALSE(SpareCores::borrow());
    SpareCores::give_back();
  }
  CHECK_FALSE(SpareCores::borrow());  // the map is over: no core is spare...
  SpareCores::give_back();
  CHECK_FALSE(SpareCores::borrow());  // ...even once the borrowers give theirs back
}

TEST_CASE("a core lent is taken back once, even while it is borrowed") {
  using gridmr::SpareCores;
  SpareCores::clear();
  SpareCores::lend();
  SpareCores::lend();
  CHECK(SpareCores::borrow());
  SpareCores::withdraw();  // one core still borrowed: below zero until it comes back
  CHECK_FALSE(SpareCores::borrow());
  SpareCores::give_back();
  CHECK_FALSE(SpareCores::borrow());
  SpareCores::withdraw();  // nothing more to take back
  CHECK_FALSE(SpareCores::borrow());

  CHECK_FALSE(SpareCores::shared());  // one process: its own pool
}

namespace {
cpu_set_t cores_of(std::initializer_list<int> ids) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int id : ids) CPU_SET(id, &set);
  return set;
}
}  // namespace

TEST_CASE("a rank's default threads: its cores, shared with the ranks bound to any of them") {
  using gridmr::threads_per_rank;
  const cpu_set_t socket0 = cores_of({0, 1, 2, 3}), socket1 = cores_of({4, 5, 6, 7});
  const cpu_set_t node = cores_of({0, 1, 2, 3, 4, 5, 6, 7});
  // Unbound: the node's cores shared by all its ranks (at least one thread each).
  CHECK(threads_per_rank(node, {node}) == 8);
  CHECK(threads_per_rank(node, {node, node, node}) == 2);
  CHECK(threads_per_rank(node, std::vector<cpu_set_t>(9, node)) == 1);
  // A core each (mpirun's default at up to 2 ranks): one thread each.
  CHECK(threads_per_rank(cores_of({0}), {cores_of({0}), cores_of({1})}) == 1);
  // A socket each: the socket's cores; two ranks on one socket (mpirun's default at more than
  // 2 ranks, mapped by slot) split it instead of each running a thread per core.
  CHECK(threads_per_rank(socket0, {socket0, socket1}) == 4);
  CHECK(threads_per_rank(socket0, {socket0, socket0, socket1, socket1}) == 2);
  CHECK(threads_per_rank(socket1, {socket0, socket0, socket1}) == 4);
  // --map-by slot:PE=2: two cores each.
  CHECK(threads_per_rank(cores_of({2, 3}), {cores_of({0, 1}), cores_of({2, 3})}) == 2);
}
