// Reading a result file, serially: for `show`, tests and small tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace gridmr {

class ResultReader;

class ResultFile {
 public:
  // Throws UsageError if the file is missing or is not a gridmr result file.
  explicit ResultFile(const std::string& path);
  ~ResultFile();
  ResultFile(ResultFile&&) noexcept;

  const std::string& path() const { return path_; }
  bool has(const std::string& object) const;
  bool has_attribute(const std::string& object, const std::string& name) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;
  std::uint64_t uint_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  // A whole uint64 dataset, or a whole numeric dataset converted to double.
  std::vector<std::uint64_t> read_u64(const std::string& dataset) const;
  std::vector<double> read_doubles(const std::string& dataset) const;
  // Elements of a dataset.
  std::uint64_t dataset_size(const std::string& dataset) const;
  // Bytes [begin, end) of a uint8 dataset.
  std::string read_bytes(const std::string& dataset, std::uint64_t begin, std::uint64_t end) const;

  const ResultReader& reader() const { return *reader_; }

 private:
  std::string path_;
  std::unique_ptr<ResultReader> reader_;
};

// For a job's show(): the `top` keys of the key list `keys` (keys/offsets, keys/data) by `values`,
// a numeric dataset with one value per key; largest first, equal values in key order.
void show_top_keys(const ResultFile& file, const std::string& keys, const std::string& values,
                   std::size_t top, std::FILE* out);

}  // namespace gridmr
