// Sorted runs in the scratch folder: writing, reading, merging.
#include "gridmr/spill/runs.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <queue>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/core/sizes.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/reduce/reduce.hpp"

namespace gridmr {

int compare_keys(const KeyLayout& layout, std::string_view a, std::string_view b) {
  const std::string_view pa = layout.part(a), pb = layout.part(b);
  if (const int c = pa.compare(pb); c != 0) return c;
  return a.substr(pa.size()).compare(b.substr(pb.size()));
}

int Scratch::create() const {
  // An unnamed file where the file system can make one; else a name, removed at once.
  int fd = ::open(folder_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT) {
    if (errno == ENOSPC || errno == EDQUOT) write_failed(errno);
    throw RunError(errno_message("cannot create a scratch file (--scratch) in", folder_, errno));
  }
  std::string name = folder_ + "/gridmr-spill-XXXXXX";
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOSPC || errno == EDQUOT) write_failed(errno);
    throw RunError(errno_message("cannot create a scratch file (--scratch) in", folder_, errno));
  }
  ::unlink(name.c_str());
  return fd;
}

void Scratch::write_failed(int err) const {
  if (err == ENOSPC || err == EDQUOT) {
    throw RunError(fmt::format(
        "scratch folder {} is full ({}) after spilling {}; free space there, choose another "
        "with --scratch, or raise --memory",
        quote_path(folder_), std::strerror(err), format_bytes(written())));
  }
  throw RunError(errno_message("cannot write a spill file in", folder_, err));
}

Run::~Run() { ::close(fd_); }

RunWriter::RunWriter(const Scratch& scratch, const KeyLayout& layout, std::size_t value_size)
    : scratch_(scratch), layout_(layout), value_size_(value_size), fd_(scratch.create()) {
  buffer_.reserve(1 << 20);
}

RunWriter::~RunWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void RunWriter::add(std::string_view key, const std::byte* value) {
  const std::uint64_t at = written_ + buffer_.size();
  if (at >= next_mark_) {
    const std::string_view part = layout_.part(key);
    if (part.size() <= Run::kIndexedPart) {
      marks_.push_back({at, std::string(part)});
      next_mark_ = at + (64 << 10);
    }
  }
  append_record(buffer_, key, value, value_size_);
  ++records_;
  key_bytes_ += key.size();
  if (buffer_.size() >= (1 << 20)) flush();
}

void RunWriter::flush() {
  if (!pwrite_fully(fd_, buffer_.data(), buffer_.size(), written_)) scratch_.write_failed(errno);
  written_ += buffer_.size();
  scratch_.wrote(buffer_.size());
  buffer_.clear();
}

std::shared_ptr<const Run> RunWriter::finish() {
  flush();
  auto run = std::make_shared<const Run>(fd_, written_, records_, key_bytes_, std::move(marks_));
  fd_ = -1;
  return run;
}

RunReader::RunReader(std::shared_ptr<const Run> run, std::uint64_t begin, std::uint64_t end,
                     std::size_t value_size, std::size_t buffer_bytes)
    : run_(std::move(run)), at_(begin), end_(end), value_size_(value_size) {
  buffer_.resize(std::max<std::size_t>(buffer_bytes, 64));
}

bool RunReader::next(std::string_view& key, const std::byte*& value) {
  const std::size_t header = sizeof(std::uint32_t);
  // Makes `want` bytes available from used_, reading more of the file as needed.
  const auto have = [&](std::size_t want) {
    if (filled_ - used_ >= want) return true;
    if (used_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + used_, filled_ - used_);
      filled_ -= used_;
      used_ = 0;
    }
    if (buffer_.size() < want) buffer_.resize(want);
    while (filled_ < want && at_ < end_) {
      const std::size_t room =
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size() - filled_, end_ - at_));
      const ssize_t n = pread_fully(run_->fd(), buffer_.data() + filled_, room, at_);
      if (n < 0 || static_cast<std::size_t>(n) < room) {
        throw RunError(fmt::format("cannot read a spill file back: {}",
                                   n < 0 ? std::strerror(errno) : "it is shorter than written"));
      }
      filled_ += static_cast<std::size_t>(n);
      at_ += static_cast<std::uint64_t>(n);
    }
    return filled_ - used_ >= want;
  };
  if (!have(header)) {
    if (filled_ != used_) throw RunError("corrupt spill file: it ends inside a record");
    return false;
  }
  std::uint32_t length;
  std::memcpy(&length, buffer_.data() + used_, sizeof length);
  if (!have(header + length + value_size_)) {
    throw RunError("corrupt spill file: it ends inside a record");
  }
  key = std::string_view(buffer_.data() + used_ + header, length);
  value = reinterpret_cast<const std::byte*>(buffer_.data() + used_ + header + length);
  used_ += header + length + value_size_;
  return true;
}

std::shared_ptr<const Run> write_sorted_run(const Scratch& scratch, const TableView& table,
                                            const KeyLayout& layout, std::size_t value_size) {
  const SortedResult sorted = sort_by_key(table, layout);
  RunWriter writer(scratch, layout, value_size);
  for (std::size_t i = 0; i < sorted.keys.size(); ++i) writer.add(sorted.keys[i], sorted.values[i]);
  return writer.finish();
}

std::shared_ptr<const Run> merge_runs(const Scratch& scratch,
                                      const std::vector<std::shared_ptr<const Run>>& runs,
                                      const JobRuntime& job, std::size_t buffer_bytes) {
  const KeyLayout layout = job.key_layout();
  const std::size_t value_size = job.value_size();
  struct Head {
    std::string_view key;
    const std::byte* value;
    std::size_t source;
  };
  std::vector<RunReader> readers;
  readers.reserve(runs.size());
  for (const auto& run : runs) readers.emplace_back(run, 0, run->bytes(), value_size, buffer_bytes);
  // A min-heap of each reader's next record; ties by source, so the merge is stable.
  const auto later = [&](const Head& a, const Head& b) {
    const int c = compare_keys(layout, a.key, b.key);
    return c != 0 ? c > 0 : a.source > b.source;
  };
  std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
  for (std::size_t i = 0; i < readers.size(); ++i) {
    Head head{{}, nullptr, i};
    if (readers[i].next(head.key, head.value)) heads.push(head);
  }
  RunWriter writer(scratch, layout, value_size);
  std::string key;               // the key being folded
  std::vector<std::byte> value;  // and its value so far
  bool pending = false;
  while (!heads.empty()) {
    Head head = heads.top();
    heads.pop();
    if (pending && head.key == key) {
      job.combine_into(value.data(), head.value);
    } else {
      if (pending) writer.add(key, value.data());
      key.assign(head.key);
      value.assign(head.value, head.value + value_size);
      pending = true;
    }
    if (readers[head.source].next(head.key, head.value)) heads.push(head);
  }
  if (pending) writer.add(key, value.data());
  return writer.finish();
}

}  // namespace gridmr
