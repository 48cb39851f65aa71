// Reads a result file serially: for `gridmr show`, the tests and small tools.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gridmr/write/h5.hpp"

namespace gridmr {

class ResultReader {
 public:
  // Throws UsageError if the file is missing or is not a gridmr result file.
  explicit ResultReader(const std::string& path);

  std::string string_attribute(const std::string& object, const std::string& name) const;
  std::uint64_t uint_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  bool has(const std::string& object) const;
  bool has_attribute(const std::string& object, const std::string& name) const;

  std::vector<std::uint64_t> read_u64(const std::string& dataset) const;
  // Any numeric dataset, converted to double.
  std::vector<double> read_doubles(const std::string& dataset) const;
  // One field of a table of records (a compound dataset, as /stats/ranks):
  // numbers converted to double, or fixed-size strings. A missing field is an
  // empty vector.
  std::vector<double> read_field_doubles(const std::string& dataset, const std::string& field) const;
  std::vector<std::string> read_field_strings(const std::string& dataset,
                                              const std::string& field) const;
  hid_t id() const { return file_; }
  std::uint64_t dataset_size(const std::string& dataset) const;
  // Bytes [begin, end) of a uint8 dataset (a RunError if that is not inside it).
  std::string read_bytes(const std::string& dataset, std::uint64_t begin, std::uint64_t end) const;

 private:
  std::string path_;
  h5::Handle file_;
};

}  // namespace gridmr
