// ResultFile: the public face of ResultReader.
#include "gridmr/result_file.hpp"

#include "gridmr/write/result_reader.hpp"

namespace gridmr {

ResultFile::ResultFile(const std::string& path)
    : path_(path), reader_(std::make_unique<ResultReader>(path)) {}
ResultFile::~ResultFile() = default;
ResultFile::ResultFile(ResultFile&&) noexcept = default;

bool ResultFile::has(const std::string& object) const { return reader_->has(object); }
bool ResultFile::has_attribute(const std::string& object, const std::string& name) const {
  return reader_->has_attribute(object, name);
}
std::string ResultFile::string_attribute(const std::string& object, const std::string& name) const {
  return reader_->string_attribute(object, name);
}
std::uint64_t ResultFile::uint_attribute(const std::string& object, const std::string& name) const {
  return reader_->uint_attribute(object, name);
}
double ResultFile::double_attribute(const std::string& object, const std::string& name) const {
  return reader_->double_attribute(object, name);
}
std::vector<std::uint64_t> ResultFile::read_u64(const std::string& dataset) const {
  return reader_->read_u64(dataset);
}
std::vector<double> ResultFile::read_doubles(const std::string& dataset) const {
  return reader_->read_doubles(dataset);
}
std::uint64_t ResultFile::dataset_size(const std::string& dataset) const {
  return reader_->dataset_size(dataset);
}
std::string ResultFile::read_bytes(const std::string& dataset, std::uint64_t begin,
                                   std::uint64_t end) const {
  return reader_->read_bytes(dataset, begin, end);
}

}  // namespace gridmr
