// RAII ownership of HDF5 identifiers, and HDF5 errors turned into exceptions.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>

namespace gridmr::h5 {

// Owns one hid_t and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  Handle& operator=(Handle&& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(close_, other.close_);
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  // Gives up ownership without closing (for an object HDF5 can no longer close safely).
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  operator hid_t() const { return id_; }
  // Closes now; returns false if HDF5 reported an error (for example a failed flush).
  bool reset() {
    herr_t status = 0;
    if (id_ >= 0 && close_ != nullptr) status = close_(id_);
    id_ = H5I_INVALID_HID;
    return status >= 0;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// The innermost message of the current HDF5 error stack ("No space left on device", ...).
std::string last_error();

// Throws RunError("<what>: <last HDF5 error>") when id < 0.
hid_t check(hid_t id, const std::string& what);
inline void check_status(herr_t status, const std::string& what) {
  check(status < 0 ? -1 : 0, what);
}

inline Handle file(hid_t id, const std::string& what) { return {check(id, what), H5Fclose}; }
inline Handle group(hid_t id, const std::string& what) { return {check(id, what), H5Gclose}; }
inline Handle dataset(hid_t id, const std::string& what) { return {check(id, what), H5Dclose}; }
inline Handle space(hid_t id, const std::string& what) { return {check(id, what), H5Sclose}; }
inline Handle type(hid_t id, const std::string& what) { return {check(id, what), H5Tclose}; }
inline Handle plist(hid_t id, const std::string& what) { return {check(id, what), H5Pclose}; }
inline Handle attribute(hid_t id, const std::string& what) { return {check(id, what), H5Aclose}; }
inline Handle object(hid_t id, const std::string& what) { return {check(id, what), H5Oclose}; }

// Reads elements [begin, begin + count) of the 1-D `dataset` as `memory_type` into `out`
// (nothing when count is 0); throws RunError("<what>: ...") on failure.
inline void read_range(hid_t dataset, hid_t memory_type, std::uint64_t begin, std::uint64_t count,
                       void* out, const std::string& what) {
  if (count == 0) return;
  Handle file_space = space(H5Dget_space(dataset), what);
  const hsize_t start[1] = {begin}, size[1] = {count};
  check_status(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, size, nullptr),
               what);
  Handle memory_space = space(H5Screate_simple(1, size, nullptr), what);
  check_status(H5Dread(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, out), what);
}

// A variable-length UTF-8 string type.
Handle string_type();

// HDF5 prints its error stack to stderr by default; gridmr reports errors itself.
void silence_default_error_printing();

}  // namespace gridmr::h5
