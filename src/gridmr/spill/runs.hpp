// Sorted runs: pairs written to the scratch folder when a table outgrows its
// share of --memory, read back in order by the shuffle and by the merge.
//
// A run is a file of records (records.hpp) sorted by key part, then by the
// rest of the key (KeyLayout), every key at most once. The file has no name:
// it is created unlinked (O_TMPFILE, or a name removed at once), so it goes
// with its descriptor, however the process ends, SIGKILL included.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/runtime.hpp"

namespace gridmr {

// Orders table keys as the result does: by key part, then by what follows it.
int compare_keys(const KeyLayout& layout, std::string_view a, std::string_view b);

// The scratch folder of a rank (--scratch) and how much it took.
class Scratch {
 public:
  explicit Scratch(std::string folder) : folder_(std::move(folder)) {}
  const std::string& folder() const { return folder_; }
  // A new unnamed file there, open for reading and writing. Throws RunError.
  int create() const;
  // Throws the run failure for a write that failed with `err`.
  [[noreturn]] void write_failed(int err) const;
  void wrote(std::uint64_t bytes) const { written_ += bytes; }
  std::uint64_t written() const { return written_; }

 private:
  std::string folder_;
  mutable std::atomic<std::uint64_t> written_{0};  // bytes spilled in all
};

// A whole run: its file, and a sparse index of where keys start (every 64 KiB,
// short key parts only) to find a rank's range without reading all of it.
class Run {
 public:
  struct Mark {
    std::uint64_t offset;
    std::string part;  // the key part of the record at offset (at most kIndexedPart bytes)
  };
  static constexpr std::size_t kIndexedPart = 256;

  Run(int fd, std::uint64_t bytes, std::uint64_t records, std::uint64_t key_bytes,
      std::vector<Mark> marks)
      : fd_(fd),
        bytes_(bytes),
        records_(records),
        key_bytes_(key_bytes),
        marks_(std::move(marks)) {}
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  int fd() const { return fd_; }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t records() const { return records_; }
  std::uint64_t key_bytes() const { return key_bytes_; }  // of all its keys
  const std::vector<Mark>& marks() const { return marks_; }

 private:
  int fd_;
  std::uint64_t bytes_, records_, key_bytes_;
  std::vector<Mark> marks_;
};

// Writes a run, record after record, in order (the caller's), through a buffer.
class RunWriter {
 public:
  RunWriter(const Scratch& scratch, const KeyLayout& layout, std::size_t value_size);
  ~RunWriter();
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;

  void add(std::string_view key, const std::byte* value);
  std::shared_ptr<const Run> finish();
  std::uint64_t records() const { return records_; }

 private:
  void flush();

  const Scratch& scratch_;
  KeyLayout layout_;
  std::size_t value_size_;
  int fd_;
  std::vector<char> buffer_;
  std::uint64_t written_ = 0, records_ = 0, key_bytes_ = 0, next_mark_ = 0;
  std::vector<Run::Mark> marks_;
};

// Reads the records of a run between two offsets, in order, through a buffer.
class RunReader {
 public:
  RunReader(std::shared_ptr<const Run> run, std::uint64_t begin, std::uint64_t end,
            std::size_t value_size, std::size_t buffer_bytes);
  // The next record; its key and value stay valid until the next call.
  bool next(std::string_view& key, const std::byte*& value);
  // Where the next record starts.
  std::uint64_t offset() const { return at_ - (filled_ - used_); }

 private:
  std::shared_ptr<const Run> run_;
  std::uint64_t at_, end_;  // the file offset of the buffer's end, and where to stop
  std::size_t value_size_;
  std::vector<char> buffer_;
  std::size_t used_ = 0, filled_ = 0;
};

// Writes a table's pairs as one run, sorted.
std::shared_ptr<const Run> write_sorted_run(const Scratch& scratch, const TableView& table,
                                            const KeyLayout& layout, std::size_t value_size);

// Merges runs into one: equal keys become one record, their values folded
// with the job's combine. Reads each run through a buffer of `buffer_bytes`.
std::shared_ptr<const Run> merge_runs(const Scratch& scratch,
                                      const std::vector<std::shared_ptr<const Run>>& runs,
                                      const JobRuntime& job, std::size_t buffer_bytes);

}  // namespace gridmr
