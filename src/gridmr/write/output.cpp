// Output: the job's view of the result file, on top of ResultWriter.
#include "gridmr/output.hpp"

#include <vector>

#include "gridmr/errors.hpp"
#include "gridmr/write/result_writer.hpp"

namespace gridmr {

void throw_column_not_in_memory() {
  throw RunError(
      "this job reads its result as a whole, which did not fit in --memory and was spilled to "
      "the scratch folder; raise --memory, or read the result with Column::for_each");
}

void Output::write_keys(const std::string& group, const Column<std::string_view>& keys) {
  if (keys.in_memory()) {
    writer_.write_keys(group, keys.span());
  } else {
    writer_.write_keys_streamed(group, keys.size(), keys.bytes(), [&] { return keys.reader(); });
  }
}

void Output::write_keys(const std::string& group, std::span<const std::string_view> keys) {
  writer_.write_keys(group, keys);
}

void Output::write_streamed(const std::string& path, const TypeDescription& type,
                            std::uint64_t count, const std::function<Fill()>& open) {
  writer_.write_described_streamed(path, type, count, open());
}

void Output::write_offsets(const std::string& path, std::span<const std::uint64_t> sizes) {
  writer_.write_offsets(path, sizes);
}

void Output::write_offsets(const std::string& path, const Column<std::uint64_t>& sizes) {
  if (sizes.in_memory()) {
    writer_.write_offsets(path, sizes.span());
    return;
  }
  std::uint64_t sum = 0;  // a first pass: the base of the next rank's offsets
  sizes.for_each([&](std::uint64_t size) { sum += size; });
  ColumnCursor<std::uint64_t> in(sizes.reader());
  writer_.write_offsets_streamed(path, sizes.size(), sum,
                                 [&](std::uint64_t& size) { return in.next(size); });
}

void Output::write_list(const std::string& group, std::span<const std::string> items) {
  std::vector<std::string_view> views;
  if (writer_.rank() == 0) views.assign(items.begin(), items.end());
  writer_.write_keys(group, views);
}

void Output::write_described(const std::string& path, const TypeDescription& type, const void* data,
                             std::uint64_t count) {
  writer_.write_described(path, type, data, count);
}

void Output::attribute(const std::string& path, const std::string& name, std::uint64_t value) {
  writer_.set_attribute(path, name, value);
}
void Output::attribute(const std::string& path, const std::string& name, std::int64_t value) {
  writer_.set_attribute(path, name, value);
}
void Output::attribute(const std::string& path, const std::string& name, double value) {
  writer_.set_attribute(path, name, value);
}
void Output::attribute(const std::string& path, const std::string& name, std::string_view value) {
  writer_.set_attribute(path, name, value);
}

}  // namespace gridmr
