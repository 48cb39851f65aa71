// Writes the HDF5 result file collectively: every rank its slice of each dataset.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/output.hpp"
#include "gridmr/runtime/stats.hpp"
#include "gridmr/value.hpp"
#include "gridmr/write/h5.hpp"

namespace gridmr {

// The file is created as OUT.partial-<random> and becomes OUT only in commit(), after
// every rank has written its part. A writer destroyed before commit() removes
// the partial file. All calls are collective, and fail together: an HDF5 error
// on any rank (a full disk, say) throws the same JobFailed on every rank, so no
// rank is left waiting in a collective call that another rank abandoned.
class ResultWriter {
 public:
  ResultWriter(MPI_Comm comm, std::string path);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // `group`/offsets (n+1 byte offsets) and `group`/data: this rank's keys, after
  // the keys of the ranks before it.
  void write_keys(const std::string& group, std::span<const std::string_view> keys);
  // The same for `count` keys of `bytes` bytes in all, read in pieces: `open`
  // gives a reader from the first key, each call (one pass per dataset).
  void write_keys_streamed(
      const std::string& group, std::uint64_t count, std::uint64_t bytes,
      const std::function<std::unique_ptr<ColumnReader<std::string_view>>()>& open);
  // A dataset of every rank's `count` values of the described type, `fill`
  // giving the next ones in pieces: (out, at most n) -> how many.
  void write_described_streamed(const std::string& path, const TypeDescription& type,
                                std::uint64_t count,
                                const std::function<std::size_t(void*, std::size_t)>& fill);
  // CSR offsets (n+1 entries) for every rank's `count` sizes adding up to
  // `sum`, `next_size` giving them one by one.
  void write_offsets_streamed(const std::string& path, std::uint64_t count, std::uint64_t sum,
                              const std::function<bool(std::uint64_t&)>& next_size);
  // CSR offsets for every rank's list of sizes, in rank order (n+1 entries).
  void write_offsets(const std::string& path, std::span<const std::uint64_t> sizes);
  // A dataset of every rank's `count` values of the described type, in rank order.
  void write_described(const std::string& path, const TypeDescription& type, const void* data,
                       std::uint64_t count);
  // A dataset made of every rank's `local` elements, concatenated in rank order.
  void write_slices(const std::string& path, std::span<const std::uint64_t> local);
  void write_slices(const std::string& path, std::span<const std::uint8_t> local);
  // /stats/ranks: one row per rank.
  void write_stats(const RankStats& mine);

  // Attributes of the object at `path` ("/" for the root). Every rank must pass
  // the same value.
  void set_attribute(const std::string& path, const std::string& name, std::uint64_t value);
  void set_attribute(const std::string& path, const std::string& name, std::int64_t value);
  void set_attribute(const std::string& path, const std::string& name, double value);
  void set_attribute(const std::string& path, const std::string& name, std::string_view value);

  // Closes the file and renames OUT.partial to OUT (replacing an existing OUT
  // only if `replace`). Throws JobFailed (exit 1) if OUT appeared meanwhile.
  void commit(bool replace);

  int rank() const { return rank_; }


 private:
  // Runs one collective HDF5 step on every rank, then agrees: if it failed
  // anywhere, every rank throws JobFailed. Returns what the step returned.
  template <class F>
  auto together(F&& step);

  // " (no space left on device: ...)" when the output's disk is full, else "".
  std::string disk_note() const;

  void write_dataset(const std::string& path, hid_t file_type, hid_t memory_type, const void* data,
                     std::uint64_t count);
  void write_dataset_streamed(const std::string& path, hid_t file_type, hid_t memory_type,
                              std::size_t element_size, std::uint64_t count,
                              const std::function<std::size_t(void*, std::size_t)>& fill);
  // Creates the 1-D dataset `path` of `total` elements.
  h5::Handle create_dataset(const std::string& path, hid_t file_type, std::uint64_t total);
  void ensure_parent_groups(const std::string& path);
  void write_attribute(const std::string& path, const std::string& name, hid_t type,
                       const void* value);

  MPI_Comm comm_;
  int rank_ = 0;
  int ranks_ = 1;
  std::string path_;
  std::string partial_;  // OUT.partial-<16 random hex digits>, created by this job
  h5::Handle file_;
  int publish(bool replace) const;
  bool committed_ = false;
  // A step failed: HDF5 1.10 cannot close a parallel file safely after that
  // (ranks take different paths inside H5Fclose and wait for each other), so
  // the file is left open and the job ends with MPI_Abort (failure.hpp).
  bool abandoned_ = false;
};

}  // namespace gridmr
