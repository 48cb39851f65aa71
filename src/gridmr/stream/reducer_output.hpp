// What external reducers print, kept within --memory: each reducer child's
// stdout is cut into lines (key<TAB>value; no tab: all key; a '\r' before the
// newline dropped) and ordered stably by key. Past its budget a reducer's lines
// so far are sorted and written to the scratch folder as a run; the write then
// merges every run of every reducer of the rank, so the result is the stable
// sort by key of all their lines, in slice order, whatever was spilled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/output.hpp"
#include "gridmr/spill/runs.hpp"

namespace gridmr::stream {

struct OutputLine {
  std::string_view key, value;
};

// Calls f(key, value, has_tab) for each line of a child's output (a last line
// without a newline counts; a '\r' before the newline is dropped).
template <class F>
void for_each_output_line(std::string_view rest, F&& f) {
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
      f(line, std::string_view(), false);
    } else {
      f(line.substr(0, tab), line.substr(tab + 1), true);
    }
  }
}

// One reducer child's stdout. Not thread-safe: one per reducer thread.
class ReducerOutput {
 public:
  // `scratch` may be null: then everything stays in memory. `budget`: bytes
  // of unsorted output held before they go to the scratch folder.
  ReducerOutput(const Scratch* scratch, std::size_t budget);
  ~ReducerOutput();
  ReducerOutput(const ReducerOutput&) = delete;
  ReducerOutput& operator=(const ReducerOutput&) = delete;

  // Bytes of stdout, as they come (lines may be split anywhere).
  void append(std::string_view bytes);
  // After the child exited: its last line (without a newline, it counts too).
  void finish();

  struct FileRun {
    std::uint64_t offset, bytes;
  };
  int fd() const { return fd_; }
  const std::vector<FileRun>& file_runs() const { return file_runs_; }
  // The lines after the last run, sorted (valid after finish()).
  const std::vector<OutputLine>& last_lines() const { return lines_; }
  std::uint64_t lines() const { return total_lines_; }
  std::uint64_t key_bytes() const { return key_bytes_; }
  std::uint64_t value_bytes() const { return value_bytes_; }

 private:
  // Parses pending_[0, end) into lines_, sorted stably by key.
  void sort_lines(std::size_t end);
  // Writes the complete lines held so far as one run, and keeps the rest.
  void spill();

  const Scratch* scratch_;
  std::size_t budget_;
  std::size_t next_spill_;  // spill() when pending_ reaches this size
  std::string pending_;     // stdout not yet in a run
  std::vector<OutputLine> lines_;
  int fd_ = -1;  // the scratch file of this reducer's runs, one after the other
  std::uint64_t file_bytes_ = 0;
  std::vector<FileRun> file_runs_;
  std::uint64_t total_lines_ = 0, key_bytes_ = 0, value_bytes_ = 0;
};

// Every line of `outputs` (in slice order), stably sorted by key: their keys
// (or values) as a column the writer reads in pieces, each open a new merge.
// `reader_bytes`: the buffer of one run's reader.
Column<std::string_view> merged_keys(const std::vector<std::unique_ptr<ReducerOutput>>& outputs,
                                     std::size_t reader_bytes);
Column<std::string_view> merged_values(const std::vector<std::unique_ptr<ReducerOutput>>& outputs,
                                       std::size_t reader_bytes);

}  // namespace gridmr::stream
