// The HDF5 result file: a round trip through the parallel writer and the serial reader.
#include <doctest/doctest.h>
#include <mpi.h>

#include <filesystem>

#include "gridmr/core/error.hpp"
#include "gridmr/output/result_reader.hpp"
#include "gridmr/output/result_writer.hpp"
#include "temp_dir.hpp"

namespace {
gridmr::Result small_result() {
  gridmr::Result r;
  r.keys = {"apple", "b", "\xC3\xA9t\xC3\xA9"};
  r.values = {3, 1, 7};
  r.total_keys = 3;
  r.total_value = 11;
  return r;
}
}  // namespace

TEST_CASE("a result file round-trips keys, values and attributes, and appears only on commit") {
  TempDir dir;
  const std::string out = (dir.path / "r.h5").string();
  {
    gridmr::ResultWriter writer(MPI_COMM_WORLD, out);
    const auto r = small_result();
    writer.write_keys("job/keys", r);
    writer.write_values("job/counts", r);
    writer.set_attribute("/", "format", std::string_view("gridmr-result"));
    writer.set_attribute("/", "job", std::string_view("job"));
    writer.set_attribute("job", "total", r.total_value);
    writer.set_attribute("job", "ratio", 0.25);
    CHECK(std::filesystem::exists(out + ".partial"));
    CHECK_FALSE(std::filesystem::exists(out));
    writer.commit(false);
  }
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  const gridmr::ResultReader reader(out);
  CHECK(reader.string_attribute("/", "job") == "job");
  CHECK(reader.uint_attribute("job", "total") == 11);
  CHECK(reader.double_attribute("job", "ratio") == 0.25);
  CHECK(reader.read_u64("job/keys/offsets") == std::vector<std::uint64_t>{0, 5, 6, 11});
  CHECK(reader.read_bytes("job/keys/data", 0, 11) == "appleb\xC3\xA9t\xC3\xA9");
  CHECK(reader.read_u64("job/counts") == std::vector<std::uint64_t>{3, 1, 7});
}

TEST_CASE("an uncommitted writer leaves no file, and commit does not clobber without replace") {
  TempDir dir;
  const std::string out = (dir.path / "r.h5").string();
  { gridmr::ResultWriter writer(MPI_COMM_WORLD, out); }
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  CHECK_FALSE(std::filesystem::exists(out));

  dir.write("r.h5", "precious");
  {
    gridmr::ResultWriter writer(MPI_COMM_WORLD, out);
    writer.set_attribute("/", "format", std::string_view("gridmr-result"));
    CHECK_THROWS_AS(writer.commit(false), gridmr::UsageError);
  }
  CHECK(std::filesystem::file_size(out) == 8);
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST_CASE("empty datasets are written and read back") {
  TempDir dir;
  const std::string out = (dir.path / "e.h5").string();
  gridmr::Result empty;
  {
    gridmr::ResultWriter writer(MPI_COMM_WORLD, out);
    writer.write_keys("job/keys", empty);
    writer.write_values("job/counts", empty);
    writer.set_attribute("/", "format", std::string_view("gridmr-result"));
    writer.commit(false);
  }
  const gridmr::ResultReader reader(out);
  CHECK(reader.read_u64("job/keys/offsets") == std::vector<std::uint64_t>{0});
  CHECK(reader.read_u64("job/counts").empty());
}

TEST_CASE("reading something that is not a result file is a usage error") {
  TempDir dir;
  CHECK_THROWS_AS(gridmr::ResultReader((dir.path / "none.h5").string()), gridmr::UsageError);
  CHECK_THROWS_AS(gridmr::ResultReader(dir.write("text.h5", "not hdf5")), gridmr::UsageError);
}
