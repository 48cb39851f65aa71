// External reducers' output: sorted runs in the scratch folder, merged at the write.
#include "gridmr/stream/reducer_output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/errors.hpp"

namespace gridmr::stream {

namespace {

constexpr std::size_t kWriteBuffer = 1 << 20;

bool by_key(const OutputLine& a, const OutputLine& b) { return a.key < b.key; }

// Appends `bytes` at `offset` of fd.
void write_at(const Scratch& scratch, int fd, std::string_view bytes, std::uint64_t offset) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) scratch.write_failed(n < 0 ? errno : ENOSPC);
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
    scratch.wrote(static_cast<std::uint64_t>(n));
  }
}

// The lines of a source, in order; a line stays valid until the next call.
class LineSource {
 public:
  virtual ~LineSource() = default;
  virtual bool next(OutputLine& line) = 0;
};

class MemoryLines final : public LineSource {
 public:
  explicit MemoryLines(const std::vector<OutputLine>& lines) : lines_(lines) {}
  bool next(OutputLine& line) override {
    if (at_ == lines_.size()) return false;
    line = lines_[at_++];
    return true;
  }

 private:
  const std::vector<OutputLine>& lines_;
  std::size_t at_ = 0;
};

// A run as ReducerOutput wrote it: key<TAB>value<NEWLINE> lines.
class FileLines final : public LineSource {
 public:
  FileLines(int fd, ReducerOutput::FileRun run, std::size_t buffer_bytes)
      : fd_(fd), at_(run.offset), end_(run.offset + run.bytes), buffer_bytes_(buffer_bytes) {}

  bool next(OutputLine& line) override {
    for (;;) {
      const std::size_t newline = buffer_.find('\n', used_);
      if (newline != std::string::npos) {
        const std::string_view text(buffer_.data() + used_, newline - used_);
        used_ = newline + 1;
        const std::size_t tab = text.find('\t');
        line = {text.substr(0, tab), text.substr(tab + 1)};
        return true;
      }
      if (at_ == end_) return false;
      fill();
    }
  }

 private:
  // Drops the lines read and reads on (at least one more buffer, a long line whole).
  void fill() {
    buffer_.erase(0, used_);
    used_ = 0;
    const std::size_t kept = buffer_.size();
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(end_ - at_, buffer_bytes_));
    buffer_.resize(kept + n);
    const ssize_t got = pread_fully(fd_, buffer_.data() + kept, n, at_);
    if (got < 0 || static_cast<std::size_t>(got) < n) {
      throw RunError(
          fmt::format("cannot read the reducers' output back from the scratch folder: {}",
                      got < 0 ? std::strerror(errno) : "the file is shorter"));
    }
    at_ += n;
  }

  int fd_;
  std::uint64_t at_, end_;
  std::size_t buffer_bytes_;
  std::string buffer_;
  std::size_t used_ = 0;
};

// Every source's lines, smallest key first; equal keys in source order.
class MergedLines final : public ColumnReader<std::string_view> {
 public:
  MergedLines(const std::vector<std::unique_ptr<ReducerOutput>>& outputs, std::size_t reader_bytes,
              bool values)
      : values_(values) {
    for (const auto& output : outputs) {
      for (const auto& run : output->file_runs()) {
        sources_.push_back(std::make_unique<FileLines>(output->fd(), run, reader_bytes));
      }
      sources_.push_back(std::make_unique<MemoryLines>(output->last_lines()));
    }
    current_.resize(sources_.size());
    for (std::size_t s = 0; s < sources_.size(); ++s) {
      if (sources_[s]->next(current_[s])) heap_.push_back(s);
    }
    std::make_heap(heap_.begin(), heap_.end(), after());
  }

  std::size_t read(std::string_view* out, std::size_t n) override {
    storage_.clear();
    ends_.clear();
    while (ends_.size() < n && !heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), after());
      const std::size_t s = heap_.back();
      const OutputLine& line = current_[s];
      storage_.append(values_ ? line.value : line.key);
      ends_.push_back(storage_.size());
      if (sources_[s]->next(current_[s])) {
        std::push_heap(heap_.begin(), heap_.end(), after());
      } else {
        heap_.pop_back();
      }
    }
    std::size_t begin = 0;
    for (std::size_t i = 0; i < ends_.size(); ++i) {
      out[i] = std::string_view(storage_).substr(begin, ends_[i] - begin);
      begin = ends_[i];
    }
    return ends_.size();
  }

 private:
  // The heap's order: a source sorts before another when its line comes
  // later (std::*_heap keep the greatest first, here the line that comes first).
  struct After {
    const std::vector<OutputLine>* current;
    bool operator()(std::size_t a, std::size_t b) const {
      const int c = (*current)[a].key.compare((*current)[b].key);
      return c != 0 ? c > 0 : a > b;
    }
  };
  After after() const { return After{&current_}; }

  bool values_;
  std::vector<std::unique_ptr<LineSource>> sources_;
  std::vector<OutputLine> current_;  // each source's next line
  std::vector<std::size_t> heap_;    // the sources not yet done
  std::string storage_;              // the strings of the last read()
  std::vector<std::size_t> ends_;
};

Column<std::string_view> merged(const std::vector<std::unique_ptr<ReducerOutput>>& outputs,
                                std::size_t reader_bytes, bool values) {
  std::uint64_t lines = 0, bytes = 0;
  for (const auto& output : outputs) {
    lines += output->lines();
    bytes += values ? output->value_bytes() : output->key_bytes();
  }
  return Column<std::string_view>(
      lines,
      [&outputs, reader_bytes, values] {
        return std::make_unique<MergedLines>(outputs, reader_bytes, values);
      },
      bytes);
}

}  // namespace

ReducerOutput::ReducerOutput(const Scratch* scratch, std::size_t budget)
    : scratch_(scratch), budget_(std::max<std::size_t>(budget, 64 << 10)), next_spill_(budget_) {}

ReducerOutput::~ReducerOutput() {
  if (fd_ >= 0) ::close(fd_);
}

void ReducerOutput::append(std::string_view bytes) {
  pending_.append(bytes);
  if (scratch_ != nullptr && pending_.size() >= next_spill_) spill();
}

void ReducerOutput::finish() { sort_lines(pending_.size()); }

void ReducerOutput::sort_lines(std::size_t end) {
  lines_.clear();
  for_each_output_line(std::string_view(pending_).substr(0, end),
                       [this](std::string_view key, std::string_view value, bool) {
                         lines_.push_back({key, value});
                         key_bytes_ += key.size();
                         value_bytes_ += value.size();
                       });
  total_lines_ += lines_.size();
  if (!std::is_sorted(lines_.begin(), lines_.end(), by_key)) {
    std::stable_sort(lines_.begin(), lines_.end(), by_key);
  }
}

void ReducerOutput::spill() {
  const std::size_t newline = pending_.rfind('\n');
  if (newline == std::string::npos) {
    next_spill_ = pending_.size() + budget_;  // one long line so far: wait for more
    return;
  }
  sort_lines(newline + 1);
  if (fd_ < 0) fd_ = scratch_->create();
  const std::uint64_t start = file_bytes_;
  std::string out;
  out.reserve(kWriteBuffer + 4096);
  const auto flush = [&] {
    write_at(*scratch_, fd_, out, file_bytes_);
    file_bytes_ += out.size();
    out.clear();
  };
  for (const OutputLine& line : lines_) {
    out.append(line.key);
    out.push_back('\t');
    out.append(line.value);
    out.push_back('\n');
    if (out.size() >= kWriteBuffer) flush();
  }
  flush();
  file_runs_.push_back({start, file_bytes_ - start});
  lines_.clear();
  pending_.erase(0, newline + 1);
  next_spill_ = std::max(budget_, pending_.size() + budget_ / 2);
}

Column<std::string_view> merged_keys(const std::vector<std::unique_ptr<ReducerOutput>>& outputs,
                                     std::size_t reader_bytes) {
  return merged(outputs, reader_bytes, false);
}

Column<std::string_view> merged_values(const std::vector<std::unique_ptr<ReducerOutput>>& outputs,
                                       std::size_t reader_bytes) {
  return merged(outputs, reader_bytes, true);
}

}  // namespace gridmr::stream
