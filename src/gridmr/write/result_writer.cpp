// Writes the HDF5 result file collectively with parallel HDF5 (MPI-IO driver).
#include "gridmr/write/result_writer.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <type_traits>

#include "gridmr/core/sizes.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/runtime/failure.hpp"

namespace gridmr {

namespace h5 {

std::string last_error() {
  std::string message;
  auto walk = [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
    // The innermost entry is the first walked with H5E_WALK_UPWARD; keep the
    // last one that carries a description other than a generic failure.
    auto* text = static_cast<std::string*>(out);
    if (e->desc != nullptr && e->desc[0] != '\0' && text->empty()) *text = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &message);
  H5Eclear2(H5E_DEFAULT);
  return message.empty() ? "HDF5 error" : message;
}

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) throw RunError(fmt::format("{}: {}", what, last_error()));
  return id;
}

Handle string_type() {
  Handle t = type(H5Tcopy(H5T_C_S1), "string type");
  check_status(H5Tset_size(t, H5T_VARIABLE), "string type");
  check_status(H5Tset_cset(t, H5T_CSET_UTF8), "string type");
  return t;
}

void silence_default_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

}  // namespace h5

namespace {
// A creation list (of the file, or of a group) under which groups keep the
// order their members were written in: `gridmr cat` prints columns in it.
h5::Handle keeping_link_order(hid_t list_class) {
  h5::Handle list = h5::plist(H5Pcreate(list_class), "creation property list");
  h5::check_status(H5Pset_link_creation_order(list, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
                   "link creation order");
  return list;
}
}  // namespace

template <class F>
auto ResultWriter::together(F&& step) {
  using Value = decltype(step());
  auto explained = [&] {
    try {
      return step();
    } catch (const RunError& e) {
      throw RunError(e.what() + disk_note());
    }
  };
  try {
    if constexpr (std::is_void_v<Value>) {
      agree(comm_, explained);
    } else {
      std::optional<Value> value;
      agree(comm_, [&] { value.emplace(explained()); });
      return std::move(*value);
    }
  } catch (const JobFailed&) {
    abandoned_ = true;
    throw;
  }
}

std::string ResultWriter::disk_note() const {
  // MPI-IO does not always pass the cause up through HDF5: look at the disk.
  const int err = errno;
  std::string folder = std::filesystem::path(path_).parent_path().string();
  struct statvfs fs {};
  if (::statvfs(folder.empty() ? "." : folder.c_str(), &fs) == 0) {
    const std::uint64_t free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (free < (1u << 20)) {
      return fmt::format(" (no space left on device: {} free in '{}')", format_bytes(free),
                         folder.empty() ? "." : folder);
    }
  }
  if (err == ENOSPC || err == EDQUOT) return fmt::format(" ({})", std::strerror(err));
  return "";
}

namespace {

h5::Handle h5_type(const TypeDescription& type, const std::string& what);

// "OUT.partial-" and 16 random hex digits: a name no other job uses.
std::string unique_partial_name(const std::string& path) {
  std::uint64_t bits = 0;
  if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
    bits =
        static_cast<std::uint64_t>(::getpid()) << 32 ^ static_cast<std::uint64_t>(::time(nullptr));
  }
  return fmt::format("{}.partial-{:016x}", path, bits);
}

}  // namespace

ResultWriter::ResultWriter(MPI_Comm comm, std::string path) : comm_(comm), path_(std::move(path)) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &ranks_);
  // Rank 0 creates the partial file exclusively (never an existing file, never
  // through a symbolic link), then every rank learns its name. So two jobs
  // with the same output never write into one file, and the commit renames
  // only a file this job made.
  char name[4096] = {};
  together([&] {
    if (rank_ != 0) return;
    for (int attempt = 0;; ++attempt) {
      const std::string candidate = unique_partial_name(path_);
      if (candidate.size() >= sizeof name) {
        throw UsageError(fmt::format("output path too long: {}", quote_path(path_)));
      }
      const int fd =
          ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd >= 0) {
        ::close(fd);
        std::memcpy(name, candidate.c_str(), candidate.size() + 1);
        return;
      }
      if (errno != EEXIST || attempt == 8)
        throw RunError(errno_message("cannot create", candidate, errno));
    }
  });
  MPI_Bcast(name, sizeof name, MPI_CHAR, 0, comm_);
  partial_ = name;
  register_partial_output(partial_);
  try {
    file_ = together([&] {
      h5::Handle fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS), "file access list");
      h5::check_status(H5Pset_fapl_mpio(fapl, comm_, MPI_INFO_NULL), "MPI-IO driver");
      h5::check_status(H5Pset_all_coll_metadata_ops(fapl, true), "collective metadata");
      h5::check_status(H5Pset_coll_metadata_write(fapl, true), "collective metadata");
      h5::Handle fcpl = keeping_link_order(H5P_FILE_CREATE);
      return h5::file(H5Fcreate(partial_.c_str(), H5F_ACC_TRUNC, fcpl, fapl),
                      fmt::format("cannot create {}", quote_path(partial_)));
    });
  } catch (...) {
    // The destructor will not run: remove the (empty) partial file here.
    if (rank_ == 0) ::unlink(partial_.c_str());
    forget_partial_output();
    throw;
  }
}

ResultWriter::~ResultWriter() {
  if (committed_) return;
  if (abandoned_) {
    file_.release();
    hdf5_left_unclean();
  } else if (!file_.reset()) {
    // A close that fails leaves the file registered, and HDF5 1.10 then
    // crashes when it shuts down inside MPI_Finalize.
    hdf5_left_unclean();
  }
  if (rank_ == 0) ::unlink(partial_.c_str());
  forget_partial_output();
}

void ResultWriter::ensure_parent_groups(const std::string& path) {
  // Create "a", "a/b", ... for "a/b/name", skipping those that exist.
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string group = path.substr(0, slash);
    if (H5Lexists(file_, group.c_str(), H5P_DEFAULT) > 0) continue;
    together([&] {
      h5::Handle gcpl = keeping_link_order(H5P_GROUP_CREATE);
      h5::group(H5Gcreate2(file_, group.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT),
                fmt::format("cannot create group '{}' in {}", group, quote_path(path_)));
    });
  }
}

void ResultWriter::write_dataset(const std::string& path, hid_t file_type, hid_t memory_type,
                                 const void* data, std::uint64_t count) {
  std::uint64_t offset = 0, total = 0;
  MPI_Exscan(&count, &offset, 1, MPI_UINT64_T, MPI_SUM, comm_);
  if (rank_ == 0) offset = 0;  // MPI_Exscan leaves rank 0's result undefined
  MPI_Allreduce(&count, &total, 1, MPI_UINT64_T, MPI_SUM, comm_);

  const std::string what = fmt::format("cannot write '{}' in {}", path, quote_path(path_));
  h5::Handle dataset = create_dataset(path, file_type, total);
  if (total == 0) return;  // HDF5 1.10 rejects a collective write to an empty dataset
  struct Abandon {         // on failure the dataset stays open with the file (see abandoned_)
    h5::Handle& dataset;
    const bool& abandoned;
    ~Abandon() {
      if (abandoned) dataset.release();
    }
  } abandon{dataset, abandoned_};
  together([&] {
    const hsize_t start[1] = {offset}, local[1] = {count};
    h5::Handle file_space = h5::space(H5Dget_space(dataset), what);
    h5::Handle memory_space = h5::space(H5Screate_simple(1, local, nullptr), what);
    if (count == 0) {
      h5::check_status(H5Sselect_none(file_space), what);
      h5::check_status(H5Sselect_none(memory_space), what);
    } else {
      h5::check_status(
          H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, local, nullptr), what);
    }
    h5::Handle transfer = h5::plist(H5Pcreate(H5P_DATASET_XFER), what);
    h5::check_status(H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE), what);
    static const std::uint64_t kNothing = 0;
    h5::check_status(H5Dwrite(dataset, memory_type, memory_space, file_space, transfer,
                              count == 0 ? &kNothing : data),
                     what);
  });
  together([&] {
    if (!dataset.reset()) throw RunError(fmt::format("{}: {}", what, h5::last_error()));
  });
}

h5::Handle ResultWriter::create_dataset(const std::string& path, hid_t file_type,
                                       std::uint64_t total) {
  ensure_parent_groups("/" + path);
  const std::string what = fmt::format("cannot write '{}' in {}", path, quote_path(path_));
  const hsize_t dims[1] = {total};
  return together([&] {
    h5::Handle space = h5::space(H5Screate_simple(1, dims, nullptr), what);
    return h5::dataset(
        H5Dcreate2(file_, path.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        what);
  });
}

// As write_dataset, in rounds of at most 4 MiB per rank: every rank takes part
// in every round (the most any rank needs), with an empty selection once done.
void ResultWriter::write_dataset_streamed(
    const std::string& path, hid_t file_type, hid_t memory_type, std::size_t element_size,
    std::uint64_t count, const std::function<std::size_t(void*, std::size_t)>& fill) {
  std::uint64_t offset = 0, total = 0;
  MPI_Exscan(&count, &offset, 1, MPI_UINT64_T, MPI_SUM, comm_);
  if (rank_ == 0) offset = 0;
  MPI_Allreduce(&count, &total, 1, MPI_UINT64_T, MPI_SUM, comm_);
  const std::string what = fmt::format("cannot write '{}' in {}", path, quote_path(path_));
  h5::Handle dataset = create_dataset(path, file_type, total);
  if (total == 0) return;
  struct Abandon {
    h5::Handle& dataset;
    const bool& abandoned;
    ~Abandon() {
      if (abandoned) dataset.release();
    }
  } abandon{dataset, abandoned_};
  const std::uint64_t chunk = std::max<std::uint64_t>(1, (4u << 20) / element_size);
  const std::uint64_t mine = (count + chunk - 1) / chunk;
  std::uint64_t rounds = 0;
  MPI_Allreduce(&mine, &rounds, 1, MPI_UINT64_T, MPI_MAX, comm_);
  std::vector<std::byte> buffer(static_cast<std::size_t>(std::min(chunk, std::max<std::uint64_t>(count, 1))) *
                                element_size);
  std::uint64_t done = 0;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    together([&] {
      const std::uint64_t n = std::min(chunk, count - done);
      std::size_t got = 0;
      while (got < n) {
        const std::size_t more = fill(buffer.data() + got * element_size, n - got);
        if (more == 0) break;
        got += more;
      }
      if (got != n) {
        throw RunError(fmt::format("{}: {} elements expected, {} read", what, count, done + got));
      }
      const hsize_t start[1] = {offset + done}, local[1] = {std::max<std::uint64_t>(n, 1)};
      h5::Handle file_space = h5::space(H5Dget_space(dataset), what);
      h5::Handle memory_space = h5::space(H5Screate_simple(1, local, nullptr), what);
      if (n == 0) {
        h5::check_status(H5Sselect_none(file_space), what);
        h5::check_status(H5Sselect_none(memory_space), what);
      } else {
        const hsize_t size[1] = {n};
        h5::check_status(
            H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, size, nullptr), what);
      }
      h5::Handle transfer = h5::plist(H5Pcreate(H5P_DATASET_XFER), what);
      h5::check_status(H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE), what);
      h5::check_status(
          H5Dwrite(dataset, memory_type, memory_space, file_space, transfer, buffer.data()), what);
      done += n;
    });
  }
  together([&] {
    if (!dataset.reset()) throw RunError(fmt::format("{}: {}", what, h5::last_error()));
  });
}

void ResultWriter::write_described_streamed(
    const std::string& path, const TypeDescription& type, std::uint64_t count,
    const std::function<std::size_t(void*, std::size_t)>& fill) {
  const std::string what = fmt::format("cannot write '{}' in {}", path, quote_path(path_));
  h5::Handle file_type = h5_type(type, what);
  write_dataset_streamed(path, file_type, file_type, type.size, count, fill);
}

void ResultWriter::write_offsets_streamed(const std::string& path, std::uint64_t count,
                                          std::uint64_t sum,
                                          const std::function<bool(std::uint64_t&)>& next_size) {
  std::uint64_t base = 0;
  MPI_Exscan(&sum, &base, 1, MPI_UINT64_T, MPI_SUM, comm_);
  if (rank_ == 0) base = 0;
  const bool last = rank_ == ranks_ - 1;
  std::uint64_t at = base, left = count;
  write_dataset_streamed(path, H5T_STD_U64LE, H5T_NATIVE_UINT64, sizeof(std::uint64_t),
                         count + (last ? 1 : 0), [&](void* out, std::size_t n) {
                           auto* offsets = static_cast<std::uint64_t*>(out);
                           std::size_t i = 0;
                           for (; i < n; ++i) {
                             offsets[i] = at;
                             if (left == 0) continue;  // the closing offset
                             std::uint64_t size = 0;
                             if (!next_size(size)) break;
                             at += size;
                             --left;
                           }
                           return i;
                         });
}

void ResultWriter::write_keys_streamed(
    const std::string& group, std::uint64_t count, std::uint64_t bytes,
    const std::function<std::unique_ptr<ColumnReader<std::string_view>>()>& open) {
  {
    ColumnCursor<std::string_view> keys(open());
    write_offsets_streamed(group + "/offsets", count, bytes, [&](std::uint64_t& size) {
      std::string_view key;
      if (!keys.next(key)) return false;
      size = key.size();
      return true;
    });
  }
  ColumnCursor<std::string_view> keys(open());
  std::string_view key;  // the rest of the key being copied
  write_dataset_streamed(group + "/data", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, bytes,
                         [&](void* out, std::size_t n) {
                           auto* p = static_cast<char*>(out);
                           std::size_t i = 0;
                           while (i < n) {
                             if (key.empty() && !keys.next(key)) break;
                             const std::size_t m = std::min(n - i, key.size());
                             std::memcpy(p + i, key.data(), m);
                             key.remove_prefix(m);
                             i += m;
                           }
                           return i;
                         });
}

void ResultWriter::write_slices(const std::string& path, std::span<const std::uint64_t> local) {
  write_dataset(path, H5T_STD_U64LE, H5T_NATIVE_UINT64, local.data(), local.size());
}

void ResultWriter::write_slices(const std::string& path, std::span<const std::uint8_t> local) {
  write_dataset(path, H5T_STD_U8LE, H5T_NATIVE_UINT8, local.data(), local.size());
}

void ResultWriter::write_offsets(const std::string& path, std::span<const std::uint64_t> sizes) {
  std::uint64_t mine = 0;
  for (const std::uint64_t size : sizes) mine += size;
  std::uint64_t base = 0;
  MPI_Exscan(&mine, &base, 1, MPI_UINT64_T, MPI_SUM, comm_);
  if (rank_ == 0) base = 0;
  std::vector<std::uint64_t> offsets;
  offsets.reserve(sizes.size() + 1);
  for (const std::uint64_t size : sizes) {
    offsets.push_back(base);
    base += size;
  }
  if (rank_ == ranks_ - 1) offsets.push_back(base);  // the closing offset
  write_slices(path, offsets);
}

void ResultWriter::write_keys(const std::string& group, std::span<const std::string_view> keys) {
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint8_t> data;
  sizes.reserve(keys.size());
  for (const auto key : keys) {
    sizes.push_back(key.size());
    data.insert(data.end(), key.begin(), key.end());
  }
  write_offsets(group + "/offsets", sizes);
  write_slices(group + "/data", data);
}

namespace {

// The HDF5 type of a described value type: little-endian numbers, arrays, compounds.
h5::Handle h5_type(const TypeDescription& type, const std::string& what) {
  using Kind = TypeDescription::Kind;
  switch (type.kind) {
    case Kind::kUnsigned:
    case Kind::kSigned: {
      const bool is_signed = type.kind == Kind::kSigned;
      hid_t base = H5T_STD_U64LE;
      switch (type.size) {
        case 1:
          base = is_signed ? H5T_STD_I8LE : H5T_STD_U8LE;
          break;
        case 2:
          base = is_signed ? H5T_STD_I16LE : H5T_STD_U16LE;
          break;
        case 4:
          base = is_signed ? H5T_STD_I32LE : H5T_STD_U32LE;
          break;
        default:
          base = is_signed ? H5T_STD_I64LE : H5T_STD_U64LE;
          break;
      }
      return h5::type(H5Tcopy(base), what);
    }
    case Kind::kFloat:
      return h5::type(H5Tcopy(type.size == 4 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE), what);
    case Kind::kArray: {
      h5::Handle element = h5_type(*type.element, what);
      const hsize_t dims[1] = {type.length};
      return h5::type(H5Tarray_create2(element, 1, dims), what);
    }
    case Kind::kCompound: {
      h5::Handle compound = h5::type(H5Tcreate(H5T_COMPOUND, type.size), what);
      for (const auto& field : type.fields) {
        h5::Handle member = h5_type(*field.type, what);
        h5::check_status(H5Tinsert(compound, field.name.c_str(), field.offset, member), what);
      }
      return compound;
    }
  }
  throw RunError(what + ": unknown value type");
}

}  // namespace

void ResultWriter::write_described(const std::string& path, const TypeDescription& type,
                                   const void* data, std::uint64_t count) {
  const std::string what = fmt::format("cannot write '{}' in {}", path, quote_path(path_));
  // The file type is the memory type with the little-endian standard numbers:
  // HDF5 converts, and on x86-64 that is a copy.
  h5::Handle file_type = h5_type(type, what);
  write_dataset(path, file_type, file_type, data, count);
}

void ResultWriter::write_stats(const RankStats& mine) {
  const std::string what = fmt::format("cannot write '/stats/ranks' in {}", quote_path(path_));
  h5::Handle host = h5::type(H5Tcopy(H5T_C_S1), what);
  h5::check_status(H5Tset_size(host, sizeof(RankStats::host)), what);
  h5::check_status(H5Tset_strpad(host, H5T_STR_NULLTERM), what);
  h5::Handle row = h5::type(H5Tcreate(H5T_COMPOUND, sizeof(RankStats)), what);
  auto field = [&](const char* name, std::size_t offset, hid_t type) {
    h5::check_status(H5Tinsert(row, name, offset, type), what);
  };
  field("rank", offsetof(RankStats, rank), H5T_NATIVE_UINT32);
  field("host", offsetof(RankStats, host), host);
  field("units", offsetof(RankStats, units), H5T_NATIVE_UINT64);
  field("input_bytes", offsetof(RankStats, input_bytes), H5T_NATIVE_UINT64);
  field("map_seconds", offsetof(RankStats, map_seconds), H5T_NATIVE_DOUBLE);
  field("shuffle_seconds", offsetof(RankStats, shuffle_seconds), H5T_NATIVE_DOUBLE);
  field("reduce_seconds", offsetof(RankStats, reduce_seconds), H5T_NATIVE_DOUBLE);
  field("write_seconds", offsetof(RankStats, write_seconds), H5T_NATIVE_DOUBLE);
  field("bytes_sent", offsetof(RankStats, bytes_sent), H5T_NATIVE_UINT64);
  field("bytes_received", offsetof(RankStats, bytes_received), H5T_NATIVE_UINT64);
  field("shuffle_rounds", offsetof(RankStats, shuffle_rounds), H5T_NATIVE_UINT64);
  field("peak_rss_bytes", offsetof(RankStats, peak_rss_bytes), H5T_NATIVE_UINT64);
  field("wall_seconds", offsetof(RankStats, wall_seconds), H5T_NATIVE_DOUBLE);
  field("map_start_seconds", offsetof(RankStats, map_start), H5T_NATIVE_DOUBLE);
  field("shuffle_start_seconds", offsetof(RankStats, shuffle_start), H5T_NATIVE_DOUBLE);
  field("reduce_start_seconds", offsetof(RankStats, reduce_start), H5T_NATIVE_DOUBLE);
  field("write_start_seconds", offsetof(RankStats, write_start), H5T_NATIVE_DOUBLE);
  field("spilled_bytes", offsetof(RankStats, spilled_bytes), H5T_NATIVE_UINT64);
  write_dataset("stats/ranks", row, row, &mine, 1);
}

void ResultWriter::write_attribute(const std::string& path, const std::string& name, hid_t type,
                                   const void* value) {
  const std::string what =
      fmt::format("cannot write attribute '{}' of '{}' in {}", name, path, quote_path(path_));
  if (path != "/") ensure_parent_groups(path + "/");
  together([&] {
    h5::Handle object = h5::object(H5Oopen(file_, path.c_str(), H5P_DEFAULT), what);
    h5::Handle scalar = h5::space(H5Screate(H5S_SCALAR), what);
    h5::Handle attribute = h5::attribute(
        H5Acreate2(object, name.c_str(), type, scalar, H5P_DEFAULT, H5P_DEFAULT), what);
    h5::check_status(H5Awrite(attribute, type, value), what);
  });
}

void ResultWriter::set_attribute(const std::string& path, const std::string& name,
                                 std::uint64_t value) {
  write_attribute(path, name, H5T_NATIVE_UINT64, &value);
}

void ResultWriter::set_attribute(const std::string& path, const std::string& name,
                                 std::int64_t value) {
  write_attribute(path, name, H5T_NATIVE_INT64, &value);
}

void ResultWriter::set_attribute(const std::string& path, const std::string& name, double value) {
  write_attribute(path, name, H5T_NATIVE_DOUBLE, &value);
}

void ResultWriter::set_attribute(const std::string& path, const std::string& name,
                                 std::string_view value) {
  const std::string text(value);
  const char* pointer = text.c_str();
  h5::Handle type = h5::string_type();
  write_attribute(path, name, type, &pointer);
}

// Gives the partial file its final name without replacing a file that
// appeared meanwhile (unless `replace`); returns 0 or an errno. Where the file
// system refuses renameat2's RENAME_NOREPLACE (NFS, FUSE: EINVAL), a hard link
// does the same atomically (it fails with EEXIST), then the partial name goes;
// where hard links are refused too, a check for the name, then rename().
// GRIDMR_DEBUG_NO_RENAME_NOREPLACE=1 (and =2: no hard links either) makes the
// tests take these paths on any file system.
int ResultWriter::publish(bool replace) const {
  const char* debug = std::getenv("GRIDMR_DEBUG_NO_RENAME_NOREPLACE");
  const int refuse = debug != nullptr ? std::atoi(debug) : 0;
  if (replace) return ::rename(partial_.c_str(), path_.c_str()) == 0 ? 0 : errno;
  if (refuse == 0 &&
      ::renameat2(AT_FDCWD, partial_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) == 0) {
    return 0;
  }
  if (refuse == 0 && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return errno;
  if (refuse < 2 && ::link(partial_.c_str(), path_.c_str()) == 0) {
    ::unlink(partial_.c_str());
    return 0;
  }
  if (refuse < 2 && errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS) return errno;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) return EEXIST;
  return ::rename(partial_.c_str(), path_.c_str()) == 0 ? 0 : errno;
}

void ResultWriter::commit(bool replace) {
  // Flushing writes what HDF5 still holds: the last chance for a full disk to
  // show, in a step every rank agrees on before the (collective) close.
  together([&] {
    if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) {
      throw RunError(fmt::format("cannot finish {}: {}", quote_path(partial_), h5::last_error()));
    }
  });
  together([&] {
    if (!file_.reset()) {
      throw RunError(fmt::format("cannot finish {}: {}", quote_path(partial_), h5::last_error()));
    }
  });
  // Every rank has closed its part of the file; only then may it carry the final name.
  int error = 0;
  if (rank_ == 0) {
    // A job whose launcher is gone has been reported as failed: never publish it.
    if (!launcher_gone()) result_about_to_publish(partial_, path_);
    error = launcher_gone() ? ECANCELED : publish(replace);
    if (error == 0) result_published(path_);  // before anything else can happen on rank 0
  }
  MPI_Bcast(&error, 1, MPI_INT, 0, comm_);
  // Found only now, on every rank alike: one line from rank 0, exit 1, and the
  // partial file goes (the destructor), so nothing looks published.
  if (error == EEXIST) {
    throw JobFailed(kRunFailure,
                    fmt::format("output {} appeared during the run (another job?); the result was "
                                "not published (use --force to replace it)",
                                quote_path(path_)));
  }
  if (error == ECANCELED) {
    throw JobFailed(kRunFailure, "mpirun (or srun) ended before the result was written; the "
                                 "result was not published");
  }
  if (error != 0) {
    throw JobFailed(kRunFailure, errno_message("cannot rename the result to", path_, error) +
                                     "; the result was not published");
  }
  result_published(path_);
  committed_ = true;
  forget_partial_output();
}

}  // namespace gridmr
