// Reads a result file serially with the default (POSIX) HDF5 driver.
#include "gridmr/write/result_reader.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gridmr/errors.hpp"

namespace gridmr {

ResultReader::ResultReader(const std::string& path) : path_(path) {
  if (::access(path.c_str(), R_OK) != 0)
    throw UsageError(errno_message("cannot open", path, errno));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {  // a FIFO would block the open
    throw UsageError(fmt::format("{} is not a regular file", quote_path(path)));
  }
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    h5::last_error();
    throw UsageError(fmt::format("{} is not an HDF5 file", quote_path(path)));
  }
  file_ = h5::Handle(id, H5Fclose);
  if (!has("/") || H5Aexists(file_, "format") <= 0 ||
      string_attribute("/", "format") != "gridmr-result") {
    throw UsageError(fmt::format("{} is not a gridmr result file", quote_path(path)));
  }
}

bool ResultReader::has(const std::string& object) const {
  if (object == "/") return true;
  const htri_t exists = H5Lexists(file_, object.c_str(), H5P_DEFAULT);
  h5::last_error();
  return exists > 0;
}

namespace {
h5::Handle open_attribute(hid_t file, const std::string& object, const std::string& name,
                          const std::string& path) {
  return h5::attribute(
      H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
      fmt::format("cannot read attribute '{}' of '{}' in {}", name, object, quote_path(path)));
}
}  // namespace

bool ResultReader::has_attribute(const std::string& object, const std::string& name) const {
  return has(object) && H5Aexists_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string ResultReader::string_attribute(const std::string& object,
                                           const std::string& name) const {
  h5::Handle attribute = open_attribute(file_, object, name, path_);
  h5::Handle type = h5::string_type();
  char* text = nullptr;
  h5::check_status(H5Aread(attribute, type, &text), "cannot read attribute '" + name + "'");
  std::string value = text != nullptr ? text : "";
  H5free_memory(text);
  return value;
}

std::uint64_t ResultReader::uint_attribute(const std::string& object,
                                           const std::string& name) const {
  h5::Handle attribute = open_attribute(file_, object, name, path_);
  std::uint64_t value = 0;
  h5::check_status(H5Aread(attribute, H5T_NATIVE_UINT64, &value),
                   "cannot read attribute '" + name + "'");
  return value;
}

double ResultReader::double_attribute(const std::string& object, const std::string& name) const {
  h5::Handle attribute = open_attribute(file_, object, name, path_);
  double value = 0;
  h5::check_status(H5Aread(attribute, H5T_NATIVE_DOUBLE, &value),
                   "cannot read attribute '" + name + "'");
  return value;
}

std::vector<std::uint64_t> ResultReader::read_u64(const std::string& path) const {
  const std::string what = fmt::format("cannot read '{}' in {}", path, quote_path(path_));
  h5::Handle dataset = h5::dataset(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), what);
  h5::Handle space = h5::space(H5Dget_space(dataset), what);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<std::uint64_t> values(static_cast<std::size_t>(n));
  if (n > 0) {
    h5::check_status(
        H5Dread(dataset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), what);
  }
  return values;
}

std::vector<double> ResultReader::read_doubles(const std::string& path) const {
  const std::string what = fmt::format("cannot read '{}' in {}", path, quote_path(path_));
  h5::Handle dataset = h5::dataset(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), what);
  h5::Handle space = h5::space(H5Dget_space(dataset), what);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<double> values(static_cast<std::size_t>(n));
  if (n > 0) {
    h5::check_status(
        H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), what);
  }
  return values;
}

namespace {
// The dataset of records and its number of rows, if it has `field`.
bool open_field(hid_t file, const std::string& path, const std::string& field,
                const std::string& what, h5::Handle& dataset, std::size_t& rows) {
  dataset = h5::dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), what);
  h5::Handle type = h5::type(H5Dget_type(dataset), what);
  if (H5Tget_class(type) != H5T_COMPOUND || H5Tget_member_index(type, field.c_str()) < 0) {
    return false;
  }
  h5::Handle space = h5::space(H5Dget_space(dataset), what);
  rows = static_cast<std::size_t>(std::max<hssize_t>(0, H5Sget_simple_extent_npoints(space)));
  return true;
}
}  // namespace

std::vector<double> ResultReader::read_field_doubles(const std::string& path,
                                                     const std::string& field) const {
  const std::string what = fmt::format("cannot read '{}' of '{}' in {}", field, path, quote_path(path_));
  h5::Handle dataset;
  std::size_t rows = 0;
  if (!open_field(file_, path, field, what, dataset, rows)) return {};
  std::vector<double> values(rows);
  h5::Handle memory = h5::type(H5Tcreate(H5T_COMPOUND, sizeof(double)), what);
  h5::check_status(H5Tinsert(memory, field.c_str(), 0, H5T_NATIVE_DOUBLE), what);
  if (rows > 0) {
    h5::check_status(H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), what);
  }
  return values;
}

std::vector<std::string> ResultReader::read_field_strings(const std::string& path,
                                                          const std::string& field) const {
  const std::string what = fmt::format("cannot read '{}' of '{}' in {}", field, path, quote_path(path_));
  constexpr std::size_t kWidth = 256;
  h5::Handle dataset;
  std::size_t rows = 0;
  if (!open_field(file_, path, field, what, dataset, rows)) return {};
  h5::Handle text = h5::type(H5Tcopy(H5T_C_S1), what);
  h5::check_status(H5Tset_size(text, kWidth), what);
  h5::check_status(H5Tset_strpad(text, H5T_STR_NULLTERM), what);
  h5::Handle memory = h5::type(H5Tcreate(H5T_COMPOUND, kWidth), what);
  h5::check_status(H5Tinsert(memory, field.c_str(), 0, text), what);
  std::vector<char> buffer(rows * kWidth + 1, '\0');
  if (rows > 0) {
    h5::check_status(H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()), what);
  }
  std::vector<std::string> values;
  for (std::size_t i = 0; i < rows; ++i) {
    const char* cell = buffer.data() + i * kWidth;
    values.emplace_back(cell, strnlen(cell, kWidth));
  }
  return values;
}

std::uint64_t ResultReader::dataset_size(const std::string& path) const {
  const std::string what = fmt::format("cannot read '{}' in {}", path, quote_path(path_));
  h5::Handle dataset = h5::dataset(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), what);
  h5::Handle space = h5::space(H5Dget_space(dataset), what);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

std::string ResultReader::read_bytes(const std::string& path, std::uint64_t begin,
                                     std::uint64_t end) const {
  const std::string what = fmt::format("cannot read '{}' in {}", path, quote_path(path_));
  if (end < begin || end > dataset_size(path)) {
    throw RunError(fmt::format("{}: bytes {} to {} are not inside it", what, begin, end));
  }
  std::string bytes(end - begin, '\0');
  if (bytes.empty()) return bytes;
  h5::Handle dataset = h5::dataset(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), what);
  h5::read_range(dataset, H5T_NATIVE_UINT8, begin, end - begin, bytes.data(), what);
  return bytes;
}

}  // namespace gridmr
