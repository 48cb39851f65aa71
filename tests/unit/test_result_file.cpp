// The HDF5 result file: a round trip through the parallel writer and the serial reader.
#include <doctest/doctest.h>
#include <mpi.h>

#include <filesystem>

#include "gridmr/errors.hpp"
#include "gridmr/runtime/failure.hpp"
#include "gridmr/write/result_reader.hpp"
#include "gridmr/write/result_writer.hpp"
#include "temp_dir.hpp"

namespace {
// How many OUT.partial-<random> files of `name` are in `folder`.
int partial_files(const std::filesystem::path& folder, const std::string& name) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().filename().string().rfind(name + ".partial", 0) == 0) ++n;
  }
  return n;
}
struct SmallResult {
  std::vector<std::string_view> keys = {"apple", "b", "\xC3\xA9t\xC3\xA9"};
  std::vector<std::uint64_t> values = {3, 1, 7};
  std::uint64_t total_value = 11;
};
SmallResult small_result() { return {}; }
}  // namespace

TEST_CASE("a result file round-trips keys, values and attributes, and appears only on commit") {
  TempDir dir;
  const std::string out = (dir.path / "r.h5").string();
  {
    gridmr::ResultWriter writer(MPI_COMM_WORLD, out);
    const auto r = small_result();
    writer.write_keys("job/keys", r.keys);
    writer.write_described("job/counts", *gridmr::describe<std::uint64_t>(), r.values.data(),
                           r.values.size());
    writer.set_attribute("/", "format", std::string_view("gridmr-result"));
    writer.set_attribute("/", "job", std::string_view("job"));
    writer.set_attribute("job", "total", r.total_value);
    writer.set_attribute("job", "ratio", 0.25);
    CHECK(partial_files(dir.path, "r.h5") == 1);
    CHECK_FALSE(std::filesystem::exists(out));
    writer.commit(false);
  }
  CHECK(partial_files(dir.path, "r.h5") == 0);
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
  CHECK(partial_files(dir.path, "r.h5") == 0);
  CHECK_FALSE(std::filesystem::exists(out));

  dir.write("r.h5", "precious");
  {
    gridmr::ResultWriter writer(MPI_COMM_WORLD, out);
    writer.set_attribute("/", "format", std::string_view("gridmr-result"));
    CHECK_THROWS_AS(writer.commit(false),
                    gridmr::JobFailed);  // found only at the commit: a run failure
  }
  CHECK(std::filesystem::file_size(out) == 8);
  CHECK(partial_files(dir.path, "r.h5") == 0);
}

TEST_CASE("empty datasets are written and read back") {
  TempDir dir;
  const std::string out = (dir.path / "e.h5").string();
  const std::vector<std::string_view> no_keys;
  {
    gridmr::ResultWriter writer(MPI_COMM_WORLD, out);
    writer.write_keys("job/keys", no_keys);
    writer.write_described("job/counts", *gridmr::describe<std::uint64_t>(), nullptr, 0);
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
