// `show`: a human summary of any result file.
#include "gridmr/engine/show.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "gridmr/errors.hpp"
#include "gridmr/write/h5.hpp"
#include "gridmr/write/result_reader.hpp"

namespace gridmr {

namespace {

struct Dataset {
  std::string path;
  H5T_class_t type_class;
  std::size_t type_size;
  bool is_signed;
  hssize_t elements;
};

struct Contents {
  std::vector<std::string> objects;  // groups and datasets, in visiting order
  std::map<std::string, Dataset> datasets;
};

Contents list_contents(hid_t file) {
  Contents contents;
  auto visit = [](hid_t root, const char* name, const H5O_info_t* info, void* data) -> herr_t {
    auto& c = *static_cast<Contents*>(data);
    const std::string path = std::string("/") + (std::string(name) == "." ? "" : name);
    c.objects.push_back(path);
    if (info->type != H5O_TYPE_DATASET) return 0;
    const hid_t dataset = H5Dopen2(root, name, H5P_DEFAULT);
    if (dataset < 0) return 0;
    const hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
    c.datasets[path] = {path, H5Tget_class(type), H5Tget_size(type), H5Tget_sign(type) == H5T_SGN_2,
                        H5Sget_simple_extent_npoints(space)};
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(dataset);
    return 0;
  };
  H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, visit, &contents, H5O_INFO_BASIC);
  h5::last_error();
  return contents;
}

std::string type_name(const Dataset& d) {
  switch (d.type_class) {
    case H5T_INTEGER:
      return fmt::format("{}int{}", d.is_signed ? "" : "u", 8 * d.type_size);
    case H5T_FLOAT:
      return fmt::format("float{}", 8 * d.type_size);
    case H5T_COMPOUND:
      return fmt::format("compound ({} B)", d.type_size);
    case H5T_ARRAY:
      return fmt::format("array ({} B)", d.type_size);
    case H5T_STRING:
      return "string";
    default:
      return fmt::format("{} B", d.type_size);
  }
}

// "name = value" for each attribute of `object`.
void show_attributes(hid_t file, const std::string& object, std::FILE* out) {
  const hid_t id = H5Oopen(file, object.c_str(), H5P_DEFAULT);
  if (id < 0) return;
  H5O_info_t info;
  H5Oget_info2(id, &info, H5O_INFO_NUM_ATTRS);
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const hid_t attribute =
        H5Aopen_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
    if (attribute < 0) continue;
    char name[256] = {};
    H5Aget_name(attribute, sizeof name, name);
    const hid_t type = H5Aget_type(attribute);
    std::string value = "?";
    switch (H5Tget_class(type)) {
      case H5T_INTEGER: {
        if (H5Tget_sign(type) == H5T_SGN_NONE) {
          std::uint64_t v = 0;
          if (H5Aread(attribute, H5T_NATIVE_UINT64, &v) >= 0) value = fmt::format("{}", v);
        } else {
          std::int64_t v = 0;
          if (H5Aread(attribute, H5T_NATIVE_INT64, &v) >= 0) value = fmt::format("{}", v);
        }
        break;
      }
      case H5T_FLOAT: {
        double v = 0;
        if (H5Aread(attribute, H5T_NATIVE_DOUBLE, &v) >= 0) value = fmt::format("{}", v);
        break;
      }
      case H5T_STRING: {
        h5::Handle string = h5::string_type();
        char* text = nullptr;
        if (H5Aread(attribute, string, &text) >= 0 && text != nullptr) value = text;
        H5free_memory(text);
        break;
      }
      default:
        break;
    }
    fmt::print(out, "  {}{} = {}\n", object == "/" ? "/" : object + "/", name, value);
    H5Tclose(type);
    H5Aclose(attribute);
  }
  H5Oclose(id);
  h5::last_error();
}

// A key as text on one line: bytes that are not printable ASCII or UTF-8 as \xNN.
std::string printable(const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if ((c >= 0x20 && c < 0x7f && c != '\\') || c >= 0x80) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

}  // namespace

void show_top_keys(const ResultFile& file, const std::string& group, const std::string& values,
                   std::size_t top, std::FILE* out) {
  const auto counts = file.read_doubles(values);
  const auto offsets = file.read_u64(group + "/offsets");
  if (offsets.size() != counts.size() + 1) return;  // not one value per key: nothing to list
  // A key list from another program may be anything: check it before reading keys by it.
  const std::uint64_t data_size = file.dataset_size(group + "/data");
  for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
    if (offsets[0] != 0 || offsets[i] > offsets[i + 1] || offsets[i + 1] > data_size) {
      throw RunError(
          fmt::format("{} is corrupt: '{}/offsets' is not a list of offsets into "
                      "'{}/data' ({} bytes)",
                      quote_path(file.path()), group, group, data_size));
    }
  }
  std::vector<std::size_t> order(counts.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t shown = std::min(top, order.size());
  // Largest first; equal values in key order (the file's order).
  std::partial_sort(order.begin(), order.begin() + shown, order.end(),
                    [&](std::size_t a, std::size_t b) {
                      return counts[a] != counts[b] ? counts[a] > counts[b] : a < b;
                    });
  if (shown == 0) return;
  fmt::print(out, "top {} of {} by {}:\n", shown, counts.size(), values);
  for (std::size_t i = 0; i < shown; ++i) {
    const std::size_t k = order[i];
    fmt::print(out, "  {:>14}  {}\n", fmt::format("{}", counts[k]),
               printable(file.read_bytes(group + "/data", offsets[k], offsets[k + 1])));
  }
}

void show_contents(const ResultFile& file, std::size_t top, std::FILE* out) {
  const hid_t id = file.reader().id();
  const Contents contents = list_contents(id);
  fmt::print(out, "contents:\n");
  for (const std::string& object : contents.objects) {
    const auto d = contents.datasets.find(object);
    if (d != contents.datasets.end()) {
      fmt::print(out, "  {}  [{}] {}\n", object, d->second.elements, type_name(d->second));
    }
  }
  fmt::print(out, "attributes:\n");
  for (const std::string& object : contents.objects) {
    if (object == "/stats" || object.rfind("/stats/", 0) == 0) continue;
    show_attributes(id, object, out);
  }
  // Key lists (K/offsets and K/data), and numeric datasets beside K with one value per key.
  for (const auto& [path, offsets] : contents.datasets) {
    const std::string suffix = "/offsets";
    if (path.size() <= suffix.size() ||
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string keys = path.substr(0, path.size() - suffix.size());
    if (!contents.datasets.contains(keys + "/data")) continue;
    const std::string parent = keys.substr(0, keys.rfind('/') + 1);
    for (const auto& [other, values] : contents.datasets) {
      if (other.rfind(parent, 0) != 0 || other.find('/', parent.size()) != std::string::npos) {
        continue;  // not beside the keys
      }
      const bool numeric = values.type_class == H5T_INTEGER || values.type_class == H5T_FLOAT;
      if (numeric && values.elements + 1 == offsets.elements) {
        show_top_keys(file, keys, other, top, out);
      }
    }
  }
}

void show_result(const std::string& path, std::size_t top, const std::vector<JobEntry>& jobs,
                 std::FILE* out) {
  const ResultFile file(path);
  const std::string job = file.string_attribute("/", "job");
  const auto ranks = file.uint_attribute("/", "ranks");
  const auto threads = file.uint_attribute("/", "threads_per_rank");
  fmt::print(out, "file:     {}\n", path);
  fmt::print(out, "job:      {} (gridmr {}, format {})\n", job,
             file.string_attribute("/", "gridmr_version"),
             file.uint_attribute("/", "format_version"));
  fmt::print(out, "command:  {}\n", file.string_attribute("/", "command_line"));
  fmt::print(out, "run:      {} rank{} x {} thread{}, {:.3f} s\n", ranks, ranks == 1 ? "" : "s",
             threads, threads == 1 ? "" : "s", file.double_attribute("/", "elapsed_seconds"));
  for (const JobEntry& entry : jobs) {
    if (job == entry.name && entry.show) {
      entry.show(file, top, out);
      return;
    }
  }
  show_contents(file, top, out);
}

}  // namespace gridmr
