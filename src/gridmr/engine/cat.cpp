// `cat`: a result file's table as lines of tab-separated text.
//
// A table is what a group holds: its datasets and key lists (a group of
// `offsets` and `data`), those of its subgroups too, in the order they were
// written. The first sets the rows, and every one with as many entries is a
// column. A uint64 dataset of one entry more, rising from 0 to the length of
// other columns, groups those (if they have as many entries as there are
// rows: those written after it): row i becomes a line per entry offsets[i] ..
// offsets[i+1]-1 (`collect`'s values, a `Group` job's values). Files that did
// not keep the order (gridmr 0.1.0 before `cat`) are read in name order, key
// lists first: one with offsets beside it, then the longest.
#include "gridmr/engine/cat.hpp"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string_view>
#include <vector>

#include "gridmr/errors.hpp"
#include "gridmr/write/h5.hpp"
#include "gridmr/write/result_reader.hpp"

namespace gridmr {

namespace {

constexpr std::uint64_t kRowsPerRead = std::uint64_t{1} << 16;
constexpr std::uint64_t kBytesPerRead = std::uint64_t{16} << 20;
constexpr std::size_t kFlushBytes = std::size_t{1} << 20;

// Elements of a dataset, and how many dimensions it has.
std::uint64_t extent(hid_t dataset, const std::string& what, int& dimensions) {
  h5::Handle space = h5::space(H5Dget_space(dataset), what);
  dimensions = H5Sget_simple_extent_ndims(space);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

// Tab, newline, carriage return and backslash as \t, \n, \r and \\, so that a
// field stays one field of one line; other bytes as they are.
void append_escaped(std::string& out, std::string_view text) {
  std::size_t from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const char escape = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\\' ? '\\' : 0;
    if (escape == 0) continue;
    out.append(text.data() + from, i - from);
    out += '\\';
    out += escape;
    from = i + 1;
  }
  out.append(text.data() + from, text.size() - from);
}

// One printable part of a dataset's element, at `offset` in the element as read.
struct Field {
  std::string name;  // "" for a plain value, ".min" for a member, "[2]" for an array's element
  std::size_t offset = 0;
  H5T_class_t kind = H5T_INTEGER;  // H5T_INTEGER, H5T_FLOAT or H5T_STRING
  std::size_t size = 0;
  bool is_signed = false;
};

// The fields of `type` (a native type), compounds and arrays taken apart.
void add_fields(hid_t type, std::size_t offset, const std::string& name, const std::string& what,
                std::vector<Field>& fields) {
  const H5T_class_t kind = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  switch (kind) {
    case H5T_INTEGER:
      if (size != 1 && size != 2 && size != 4 && size != 8) break;
      fields.push_back({name, offset, kind, size, H5Tget_sign(type) == H5T_SGN_2});
      return;
    case H5T_FLOAT:
      if (size != sizeof(float) && size != sizeof(double)) break;
      fields.push_back({name, offset, kind, size, true});
      return;
    case H5T_STRING:
      if (H5Tis_variable_str(type) > 0) break;
      fields.push_back({name, offset, kind, size, false});
      return;
    case H5T_ENUM: {
      h5::Handle base = h5::type(H5Tget_super(type), what);
      add_fields(base, offset, name, what, fields);
      return;
    }
    case H5T_COMPOUND:
      for (int i = 0, members = H5Tget_nmembers(type); i < members; ++i) {
        char* member = H5Tget_member_name(type, static_cast<unsigned>(i));
        const std::string member_name = member != nullptr ? member : "";
        H5free_memory(member);
        h5::Handle member_type = h5::type(H5Tget_member_type(type, static_cast<unsigned>(i)), what);
        add_fields(member_type, offset + H5Tget_member_offset(type, static_cast<unsigned>(i)),
                   name + "." + member_name, what, fields);
      }
      return;
    case H5T_ARRAY: {
      std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(0, H5Tget_array_ndims(type))));
      H5Tget_array_dims2(type, dims.data());
      std::uint64_t elements = 1;
      for (const hsize_t d : dims) elements *= d;
      h5::Handle base = h5::type(H5Tget_super(type), what);
      const std::size_t step = H5Tget_size(base);
      for (std::uint64_t k = 0; k < elements; ++k) {
        add_fields(base, offset + k * step, fmt::format("{}[{}]", name, k), what, fields);
      }
      return;
    }
    default:
      break;
  }
  throw RunError(fmt::format("{}: its type cannot be printed as text", what));
}

template <class T>
T load(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

void append_field(std::string& out, const Field& field, const unsigned char* element) {
  const unsigned char* at = element + field.offset;
  auto to = std::back_inserter(out);
  switch (field.kind) {
    case H5T_INTEGER:
      if (field.is_signed) {
        const std::int64_t value = field.size == 1   ? load<std::int8_t>(at)
                                   : field.size == 2 ? load<std::int16_t>(at)
                                   : field.size == 4 ? load<std::int32_t>(at)
                                                     : load<std::int64_t>(at);
        fmt::format_to(to, "{}", value);
      } else {
        const std::uint64_t value = field.size == 1   ? load<std::uint8_t>(at)
                                    : field.size == 2 ? load<std::uint16_t>(at)
                                    : field.size == 4 ? load<std::uint32_t>(at)
                                                      : load<std::uint64_t>(at);
        fmt::format_to(to, "{}", value);
      }
      return;
    case H5T_FLOAT:  // the shortest text that reads back as the same number
      if (field.size == sizeof(float)) {
        fmt::format_to(to, "{}", load<float>(at));
      } else {
        fmt::format_to(to, "{}", load<double>(at));
      }
      return;
    default: {
      const char* text = reinterpret_cast<const char*>(at);
      append_escaped(out, std::string_view(text, strnlen(text, field.size)));
      return;
    }
  }
}

// A column of a table: a 1-D dataset or a key list, read forward in windows
// of rows.
class Column {
 public:
  // `name` is the path below the table's group (for the header).
  Column(hid_t file, const std::string& file_path, const std::string& path, std::string name,
         bool key_list)
      : name_(std::move(name)), key_list_(key_list) {
    what_ = fmt::format("cannot read '{}' in {}", path, quote_path(file_path));
    int dimensions = 0;
    if (key_list_) {
      offsets_ = h5::dataset(H5Dopen2(file, (path + "/offsets").c_str(), H5P_DEFAULT), what_);
      data_ = h5::dataset(H5Dopen2(file, (path + "/data").c_str(), H5P_DEFAULT), what_);
      const std::uint64_t bounds = extent(offsets_, what_, dimensions);
      length_ = bounds == 0 ? 0 : bounds - 1;
      data_bytes_ = extent(data_, what_, dimensions);
      return;
    }
    dataset_ = h5::dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), what_);
    length_ = extent(dataset_, what_, dimensions);
    if (dimensions != 1) length_ = 0, one_dimensional_ = false;
    h5::Handle stored = h5::type(H5Dget_type(dataset_), what_);
    native_ = h5::type(H5Tget_native_type(stored, H5T_DIR_ASCEND), what_);
    element_bytes_ = H5Tget_size(native_);
    if (one_dimensional_) add_fields(native_, 0, "", what_, fields_);
  }

  const std::string& name() const { return name_; }
  std::uint64_t length() const { return length_; }
  bool one_dimensional() const { return one_dimensional_; }
  bool key_list() const { return key_list_; }
  std::size_t width() const { return key_list_ ? 1 : fields_.size(); }
  // One unsigned 64-bit integer per row: it may be the offsets of a grouping.
  bool holds_offsets() const {
    return !key_list_ && fields_.size() == 1 && fields_[0].name.empty() &&
           fields_[0].kind == H5T_INTEGER && !fields_[0].is_signed && fields_[0].size == 8;
  }

  // Rows are asked in ascending order (a row again is fine).
  void append(std::uint64_t row, std::string& out) {
    if (row < first_ || row >= end_) read_from(row);
    if (key_list_) {
      const std::uint64_t begin = bounds_[row - first_] - bounds_[0];
      const std::uint64_t end = bounds_[row - first_ + 1] - bounds_[0];
      append_escaped(out, std::string_view(bytes_).substr(begin, end - begin));
      return;
    }
    const unsigned char* element = elements_.data() + (row - first_) * element_bytes_;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (i > 0) out += '\t';
      append_field(out, fields_[i], element);
    }
  }

  std::uint64_t offset(std::uint64_t row) {
    if (row < first_ || row >= end_) read_from(row);
    return load<std::uint64_t>(elements_.data() + (row - first_) * element_bytes_);
  }

  void append_header(std::string& out) const {
    if (key_list_) {
      out += name_;
      return;
    }
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (i > 0) out += '\t';
      const std::string& field = fields_[i].name;
      out += field.empty() ? name_ : field[0] == '[' ? name_ + field : field.substr(1);
    }
  }

 private:
  void read_from(std::uint64_t row) {
    std::uint64_t count = std::min(kRowsPerRead, length_ - row);
    if (!key_list_) {
      elements_.resize(count * element_bytes_);
      h5::read_range(dataset_, native_, row, count, elements_.data(), what_);
      first_ = row, end_ = row + count;
      return;
    }
    bounds_.resize(count + 1);
    h5::read_range(offsets_, H5T_NATIVE_UINT64, row, count + 1, bounds_.data(), what_);
    for (std::uint64_t i = 0; i < count; ++i) {
      if (bounds_[i] > bounds_[i + 1]) {
        throw RunError(fmt::format("{}: its offsets fall at entry {}", what_, row + i + 1));
      }
    }
    if (bounds_[count] > data_bytes_) {
      throw RunError(fmt::format("{}: its offsets pass the end of its data", what_));
    }
    // At most kBytesPerRead of data at a time, but always a whole row.
    const auto last =
        std::upper_bound(bounds_.begin() + 1, bounds_.end(), bounds_[0] + kBytesPerRead);
    count = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(last - bounds_.begin()) - 1);
    bounds_.resize(count + 1);
    bytes_.resize(bounds_[count] - bounds_[0]);
    h5::read_range(data_, H5T_NATIVE_UINT8, bounds_[0], bytes_.size(), bytes_.data(), what_);
    first_ = row, end_ = row + count;
  }

  std::string name_, what_;
  bool key_list_ = false, one_dimensional_ = true;
  std::uint64_t length_ = 0, first_ = 0, end_ = 0;
  // A dataset: its elements as native_, taken apart by fields_.
  h5::Handle dataset_, native_;
  std::size_t element_bytes_ = 0;
  std::vector<Field> fields_;
  std::vector<unsigned char> elements_;
  // A key list: the window's offsets and bytes.
  h5::Handle offsets_, data_;
  std::uint64_t data_bytes_ = 0;
  std::vector<std::uint64_t> bounds_;
  std::string bytes_;
};

// Whether a group keeps the order its links were made in (files of gridmr
// 0.1.0 before `cat` did not).
bool keeps_order(hid_t group, const std::string& what) {
  h5::Handle plist = h5::plist(H5Gget_create_plist(group), what);
  unsigned order = 0;
  h5::check_status(H5Pget_link_creation_order(plist, &order), what);
  return (order & H5P_CRT_ORDER_INDEXED) != 0;
}

// The names of a group's links, in the order they were made if the file kept
// it, else by name.
std::vector<std::string> links_of(hid_t group, const std::string& what) {
  const H5_index_t index = keeps_order(group, what) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  auto add = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  h5::check_status(H5Literate(group, index, H5_ITER_INC, nullptr, add, &names), what);
  return names;
}

bool is_key_list(hid_t group, const std::string& what) {
  std::vector<std::string> links = links_of(group, what);
  std::sort(links.begin(), links.end());
  return links == std::vector<std::string>{"data", "offsets"};
}

std::string join(const std::string& path, const std::string& name) {
  return path == "/" ? "/" + name : path + "/" + name;
}

struct Tree {
  hid_t file;
  std::string file_path;
};

// Every dataset and key list at or below `path`, in order.
void add_columns(const Tree& tree, const std::string& path, const std::string& name,
                 std::vector<Column>& columns) {
  const std::string what = fmt::format("cannot read '{}' in {}", path, quote_path(tree.file_path));
  h5::Handle object = h5::object(H5Oopen(tree.file, path.c_str(), H5P_DEFAULT), what);
  const H5I_type_t type = H5Iget_type(object);
  if (type == H5I_DATASET) {
    columns.emplace_back(tree.file, tree.file_path, path, name, false);
    return;
  }
  if (type != H5I_GROUP) return;  // a named type
  if (is_key_list(object, what)) {
    columns.emplace_back(tree.file, tree.file_path, path, name, true);
    return;
  }
  for (const std::string& link : links_of(object, what)) {
    add_columns(tree, join(path, link), name.empty() ? link : name + "/" + link, columns);
  }
}

void write_out(std::string& text, std::FILE* out) {
  if (!text.empty() && std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
    throw RunError(fmt::format("cannot write the text: {}", std::strerror(errno)));
  }
  text.clear();
}

// The object to print: `object`, or the group of the file's job.
std::string table_path(const ResultReader& reader, const std::string& path, std::string object) {
  const std::string what = "cannot list " + quote_path(path);
  h5::Handle root = h5::group(H5Gopen2(reader.id(), "/", H5P_DEFAULT), what);
  std::vector<std::string> top = links_of(root, what);
  std::string listed;
  for (const std::string& name : top) listed += (listed.empty() ? "/" : ", /") + name;
  if (object.empty()) {
    const std::string job = reader.string_attribute("/", "job");
    if (reader.has("/" + job)) return "/" + job;
    top.erase(std::remove(top.begin(), top.end(), "stats"), top.end());
    if (top.size() == 1) return "/" + top[0];
    throw UsageError(
        fmt::format("{} has no group named after its job '{}'; name the group or "
                    "dataset to print (it holds {})",
                    quote_path(path), job, listed));
  }
  if (object[0] != '/') object = "/" + object;
  while (object.size() > 1 && object.back() == '/') object.pop_back();
  if (!reader.has(object)) {
    throw UsageError(
        fmt::format("{} holds no '{}' (it holds {})", quote_path(path), object, listed));
  }
  return object;
}

}  // namespace

void cat_result(const std::string& path, const std::string& object, bool header, std::FILE* out) {
  const ResultReader reader(path);
  const std::string table = table_path(reader, path, object);
  std::vector<Column> columns;
  const std::string base = table.substr(table.rfind('/') + 1);
  add_columns({reader.id(), path}, table, "", columns);
  if (columns.size() == 1 && columns[0].name().empty()) {  // a dataset or key list itself
    columns.clear();
    add_columns({reader.id(), path}, table, base.empty() ? "/" : base, columns);
  }
  if (columns.empty()) {
    throw UsageError(fmt::format("'{}' in {} holds no datasets", table, quote_path(path)));
  }
  {
    const std::string what = fmt::format("cannot read '{}' in {}", table, quote_path(path));
    h5::Handle object = h5::object(H5Oopen(reader.id(), table.c_str(), H5P_DEFAULT), what);
    if (H5Iget_type(object) == H5I_GROUP && !keeps_order(object, what)) {
      // Written in an unknown order: key lists (keys, items) first, one that
      // has offsets beside it (a grouping) before one that has not, then the
      // longest.
      const auto grouped = [&](const Column& list) {
        return std::any_of(columns.begin(), columns.end(), [&](const Column& c) {
          return c.holds_offsets() && c.length() == list.length() + 1;
        });
      };
      std::stable_sort(columns.begin(), columns.end(), [&](const Column& a, const Column& b) {
        if (a.key_list() != b.key_list()) return a.key_list();
        if (!a.key_list()) return false;
        if (grouped(a) != grouped(b)) return grouped(a);
        return a.length() > b.length();
      });
    }
  }
  if (!columns[0].one_dimensional()) {
    throw UsageError(
        fmt::format("'{}' in {} is not a list: its dataset has more than one dimension", table,
                    quote_path(path)));
  }

  // Which columns have a row each, which an entry each of a grouping.
  const std::uint64_t rows = columns[0].length();
  std::vector<Column*> per_row, per_entry, left_out;
  Column* groups = nullptr;
  std::uint64_t entries = 0;
  for (std::size_t g = 1; g < columns.size() && groups == nullptr; ++g) {
    Column& candidate = columns[g];
    if (!candidate.holds_offsets() || candidate.length() != rows + 1) continue;
    if (candidate.offset(0) != 0) continue;
    const std::uint64_t total = candidate.offset(rows);
    // Its entries: columns of `total` entries; those after it when that is
    // also the number of rows.
    const auto per_entry_column = [&](std::size_t i) {
      return i > 0 && i != g && (i > g || total != rows) && columns[i].one_dimensional() &&
             columns[i].length() == total;
    };
    bool grouped = false;
    for (std::size_t i = 0; i < columns.size(); ++i) grouped = grouped || per_entry_column(i);
    if (!grouped) continue;
    groups = &candidate;
    entries = total;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i == g) continue;
      Column& column = columns[i];
      if (per_entry_column(i)) {
        per_entry.push_back(&column);
      } else if (column.length() == rows && column.one_dimensional()) {
        per_row.push_back(&column);
      } else {
        left_out.push_back(&column);
      }
    }
  }
  if (groups == nullptr) {
    for (Column& column : columns) {
      (column.length() == rows && column.one_dimensional() ? per_row : left_out).push_back(&column);
    }
  }
  for (const Column* column : left_out) {
    const std::string size =
        column->one_dimensional()
            ? fmt::format("{} entr{}", column->length(), column->length() == 1 ? "y" : "ies")
            : std::string("more than one dimension");
    std::fputs(fmt::format("gridmr: note: '{}' ({}) is not one per row of '{}', so it is "
                           "left out; name it to print it alone\n",
                           join(table, column->name()), size, join(table, per_row[0]->name()))
                   .c_str(),
               stderr);
  }

  std::string text;
  if (header) {
    for (std::size_t i = 0; i < per_row.size(); ++i) {
      if (i > 0) text += '\t';
      per_row[i]->append_header(text);
    }
    for (const Column* column : per_entry) {
      text += '\t';
      column->append_header(text);
    }
    text += '\n';
  }
  const auto append_row = [&](std::uint64_t row) {
    for (std::size_t i = 0; i < per_row.size(); ++i) {
      if (i > 0) text += '\t';
      per_row[i]->append(row, text);
    }
  };
  std::uint64_t entry = 0;
  for (std::uint64_t row = 0; row < rows; ++row) {
    if (groups == nullptr) {
      append_row(row);
      text += '\n';
    } else {
      const std::uint64_t end = groups->offset(row + 1);
      if (end < entry || end > entries) {
        throw RunError(fmt::format("cannot read '{}' in {}: its offsets fall at entry {}", table,
                                   quote_path(path), row + 1));
      }
      if (entry == end) {  // a row without entries: its entry fields empty
        append_row(row);
        for (const Column* column : per_entry) text.append(column->width(), '\t');
        text += '\n';
      }
      for (; entry < end; ++entry) {
        append_row(row);
        for (Column* column : per_entry) {
          text += '\t';
          column->append(entry, text);
        }
        text += '\n';
        if (text.size() >= kFlushBytes) write_out(text, out);
      }
    }
    if (text.size() >= kFlushBytes) write_out(text, out);
  }
  write_out(text, out);
  if (std::fflush(out) != 0) {
    throw RunError(fmt::format("cannot write the text: {}", std::strerror(errno)));
  }
}

}  // namespace gridmr
