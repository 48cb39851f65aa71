// `gridmr farm`: one command per item (a line of a file, or an index), or one
// long-lived worker per thread that answers item after item (--worker); items
// handed out by rank 0 as work units, several at once per rank on its threads.
// The result keeps every item's stdout and how it ended, in item order.
#include <fcntl.h>
#include <fmt/format.h>
#include <mpi.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/detail/runtime.hpp"
#include "gridmr/detail/runtime_for.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/job.hpp"
#include "gridmr/map/decompress.hpp"
#include "gridmr/output.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/result_file.hpp"
#include "gridmr/spill/runs.hpp"
#include "gridmr/spill/spill.hpp"
#include "gridmr/stream/child.hpp"
#include "gridmr/streaming.hpp"

namespace gridmr {

namespace stream {

namespace {

struct FarmConfig {
  std::string command;
  std::string worker;       // or a command started once per thread, one line in and out per item
  std::string items;        // a file of items, one per line
  std::uint64_t range = 0;  // or the items 0 .. range-1
  std::int64_t retries = 0;
  std::int64_t max_failures = 0;
  double timeout = 0;  // seconds per attempt
};

// One item's outcome. Small on purpose: every item has a slot of this plus 32
// bytes in the key table, and a table zeroes its slots as it grows (with a
// 120-byte stderr line in here, 200,000 items through `cat` took twice as
// long; with the failure counts folded in here too, 48 bytes, 2 M items
// peaked at 610 MB on one rank). Failures are counted from these values after
// the reduce (Farm::count_failures); the first failure's stderr line is kept
// aside (Farm::first_failure_).
struct ItemValue {
  std::int32_t exit_code = 0;  // the last attempt's: its status, or 128 + signal
  std::uint32_t attempts = 0;
  double seconds = 0;  // all attempts
  std::uint32_t rank = 0;
  std::uint32_t timed_out = 0;

  bool failed() const { return exit_code != 0 || timed_out != 0; }
};
static_assert(sizeof(ItemValue) == 24);

// An item's value as a table or a spilled run holds it (bytes, maybe unaligned).
ItemValue item_value(const std::byte* bytes) {
  ItemValue value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

// The failed items over all ranks, and the first of them.
struct Failures {
  std::uint64_t count = 0;
  std::uint64_t first = UINT64_MAX;
  std::int32_t first_exit_code = 0;
  std::uint32_t first_timed_out = 0;

  void add(std::uint64_t index, const ItemValue& value) {
    if (!value.failed()) return;
    ++count;
    if (index < first) {
      first = index;
      first_exit_code = value.exit_code;
      first_timed_out = value.timed_out;
    }
  }
};

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

std::string expand(const std::string& command, const std::string& item) {
  const std::string quoted = shell_quote(item);
  std::string result;
  std::size_t at = 0;
  for (;;) {
    const std::size_t hole = command.find("{}", at);
    if (hole == std::string::npos) break;
    result.append(command, at, hole - at);
    result += quoted;
    at = hole + 2;
  }
  result.append(command, at);
  return result;
}

// The exit code recorded for an item whose worker ended, with status 0,
// without answering it; and for every item of a unit whose worker printed
// more lines than it was given items.
constexpr std::int32_t kNoAnswer = -1;
constexpr std::int32_t kLineTooMany = -2;
// Seconds a worker may take to end once its input has ended.
constexpr double kWorkerGrace = 10;

// "exited with status 3", "timed out after 5 s and was killed", ...
std::string describe_item(std::int32_t exit_code, bool timed_out, double timeout) {
  if (exit_code == kNoAnswer) return "ended without answering (status 0)";
  if (exit_code == kLineTooMany) return "has no trusted answer: its worker printed a line too many";
  ChildStatus status;
  status.exit_code = exit_code;
  status.signal = exit_code > 128 && !timed_out ? exit_code - 128 : 0;
  status.timed_out = timed_out;
  return status.describe(timeout);
}

// The longest item: a unit (up to 64 items) must fit one batch message.
constexpr std::uint64_t kMaxItemBytes = std::uint64_t{16} << 20;

// The text of a compressed --items file (`.gz`, `.zst`, `.bz2`, `.xz`), in an
// unnamed file of the job's scratch folder, which goes when it is closed.
int decompressed_items(int fd, const std::string& path) {
  const Scratch scratch(scratch_folder());
  const int out = scratch.create();
  try {
    Decompressor text(fd, compression_of(path), path);
    std::vector<char> buffer(std::size_t{1} << 20);
    while (const std::size_t n = text.read(buffer.data(), buffer.size())) {
      if (!write_fully(out, buffer.data(), n)) {
        throw RunError(
            errno_message(fmt::format("--items: cannot write the text of {} to", quote_path(path)),
                          scratch.folder(), errno));
      }
    }
  } catch (...) {
    ::close(out);
    throw;
  }
  return out;
}

// --items, on rank 0 only: the file stays open, and a unit's lines are read
// again when the unit leaves for the rank that runs it (its payload), so that
// no rank holds every item (rank 0 keeps 8 bytes per unit). A compressed file
// is read from its text, decompressed once.
class ItemFile {
 public:
  // Opens and counts the items (each line, the last one with or without its newline).
  explicit ItemFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw UsageError(errno_message("--items: cannot open", path, errno));
    try {
      struct stat st {};
      if (::fstat(fd_, &st) == 0) stamp_ = {st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
      text_fd_ = compression_of(path) == Compression::kNone ? fd_ : decompressed_items(fd_, path);
      count_items();
    } catch (...) {
      close();
      throw;
    }
  }
  ~ItemFile() { close(); }
  ItemFile(const ItemFile&) = delete;
  ItemFile& operator=(const ItemFile&) = delete;

  std::uint64_t count() const { return count_; }
  std::uint64_t item_bytes() const { return item_bytes_; }
  const std::string& path() const { return path_; }
  // Whether the file still has the size and time of change it had when counted.
  bool unchanged() const {
    struct stat st {};
    return ::fstat(fd_, &st) == 0 &&
           Stamp{st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec} == stamp_;
  }

  // Where each unit of `per_unit` items begins (unit i: items i * per_unit, ...).
  void cut(std::uint64_t per_unit) {
    per_unit_ = per_unit;
    starts_.assign(1, 0);
    std::uint64_t offset = 0, lines = 0;
    scan([&](const char* data, std::size_t n) {
      const char* end = data + n;
      for (const char* at = data;;) {
        const char* newline = static_cast<const char*>(std::memchr(at, '\n', end - at));
        if (newline == nullptr) break;
        if (++lines % per_unit == 0) starts_.push_back(offset + (newline + 1 - data));
        at = newline + 1;
      }
      offset += n;
    });
    if (starts_.back() != offset) starts_.push_back(offset);  // the last unit's end
  }

  // Unit `unit`'s lines as they are in the file: its payload. Thread-safe. A
  // file cut short since is read as it is now (the mapping rank finds it out).
  void read_unit(std::uint64_t unit, std::string& out) const {
    if (unit + 1 >= starts_.size()) return;
    const std::uint64_t begin = starts_[unit], size = starts_[unit + 1] - begin;
    const std::size_t at = out.size();
    out.resize(at + size);
    const ssize_t got = read_at(begin, out.data() + at, size);
    out.resize(at + static_cast<std::size_t>(std::max<ssize_t>(got, 0)));
  }

  // Up to n bytes from `offset` into `out`: fewer only at the end of the
  // file; -1 (errno set) on an error. Thread-safe.
  ssize_t read_at(std::uint64_t offset, char* out, std::size_t n) const {
    return pread_fully(text_fd_, out, n, offset);
  }

  // Item `index`'s text ("" if the file no longer holds it).
  std::string item(std::uint64_t index) const {
    std::string payload;
    read_unit(index / per_unit_, payload);
    std::vector<std::string> lines;
    split_lines(payload, per_unit_, lines);
    const std::uint64_t at = index % per_unit_;
    return at < lines.size() ? lines[at] : std::string();
  }

  // Up to `n` lines of `payload` into `lines` (without "\n", or "\r\n" as Windows
  // writes it); false unless there were exactly `n`.
  static bool split_lines(std::string_view payload, std::uint64_t n,
                          std::vector<std::string>& lines) {
    lines.clear();
    std::size_t at = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (at >= payload.size()) return false;
      const std::size_t newline = payload.find('\n', at);
      const std::size_t end = newline == std::string_view::npos ? payload.size() : newline;
      std::string_view line = payload.substr(at, end - at);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.emplace_back(line);
      at = end + 1;
    }
    return at >= payload.size();
  }

 private:
  // Reads the whole file front to back, a block at a time, into `block(data, n)`.
  template <class F>
  void scan(F&& block) const {
    std::vector<char> buffer(std::size_t{1} << 20);
    for (std::uint64_t offset = 0;;) {
      const ssize_t n = read_at(offset, buffer.data(), buffer.size());
      if (n < 0) throw UsageError(errno_message("--items: cannot read", path_, errno));
      if (n == 0) return;
      block(buffer.data(), static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
  }

  // Counts the items and their bytes (UsageError for none, or for a line over kMaxItemBytes).
  void count_items() {
    std::uint64_t line_bytes = 0;
    char last = '\n';
    const auto end_line = [&] {
      ++count_;
      item_bytes_ += line_bytes - (line_bytes > 0 && last == '\r' ? 1 : 0);
      line_bytes = 0;
    };
    scan([&](const char* data, std::size_t n) {
      const char* end = data + n;
      for (const char* at = data; at != end;) {
        const char* newline = static_cast<const char*>(std::memchr(at, '\n', end - at));
        const char* stop = newline != nullptr ? newline : end;
        if (stop != at) last = stop[-1];
        line_bytes += static_cast<std::uint64_t>(stop - at);
        if (line_bytes > kMaxItemBytes) {
          throw UsageError(fmt::format("--items: line {} of {} is longer than {} MiB", count_ + 1,
                                       quote_path(path_), kMaxItemBytes >> 20));
        }
        if (newline == nullptr) break;
        end_line();
        at = newline + 1;
      }
    });
    if (line_bytes > 0) end_line();  // a last line without its newline
    if (count_ == 0) throw UsageError("--items: " + quote_path(path_) + " has no items");
  }

  struct Stamp {
    off_t size = -1;
    time_t seconds = 0;
    long nanoseconds = 0;
    friend bool operator==(const Stamp&, const Stamp&) = default;
  };
  void close() {
    if (text_fd_ >= 0 && text_fd_ != fd_) ::close(text_fd_);
    ::close(fd_);
  }

  std::string path_;
  int fd_ = -1;       // the file as named
  int text_fd_ = -1;  // its text: the same, or its decompressed copy
  Stamp stamp_;       // size and time of change when opened
  std::uint64_t count_ = 0;
  std::uint64_t item_bytes_ = 0;  // of all items (without their line ends)
  std::uint64_t per_unit_ = 1;
  std::vector<std::uint64_t> starts_;  // units + 1 offsets
};

// Every item of an ItemFile in order, for the result's farm/items (rank 0
// writes them all; the other ranks, none).
class ItemLines final : public ColumnReader<std::string_view> {
 public:
  explicit ItemLines(const ItemFile& file) : file_(file), left_(file.count()) {}
  std::size_t read(std::string_view* out, std::size_t n) override {
    std::size_t given = 0;
    while (given < n && left_ > 0) {
      const char* begin = buffer_.data() + at_;
      const char* end = buffer_.data() + filled_;
      const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', end - begin));
      if (newline == nullptr && !at_end_) {
        if (given > 0) break;  // the lines given keep their bytes until the next call
        refill();
        continue;
      }
      if (newline == nullptr && begin == end) {
        throw RunError(
            fmt::format("--items: {} changed while the job ran (it now ends "
                        "before its last {} items)",
                        quote_path(file_.path()), left_));
      }
      std::string_view line(begin, static_cast<std::size_t>((newline ? newline : end) - begin));
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out[given++] = line;
      --left_;
      at_ = static_cast<std::size_t>((newline ? newline + 1 : end) - buffer_.data());
    }
    return given;
  }

 private:
  // The unread bytes to the front, then as many more as fit (twice the room
  // if a line fills the buffer).
  void refill() {
    std::memmove(buffer_.data(), buffer_.data() + at_, filled_ - at_);
    filled_ -= at_;
    at_ = 0;
    if (filled_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    const ssize_t got = file_.read_at(offset_, buffer_.data() + filled_, buffer_.size() - filled_);
    if (got < 0) throw RunError(errno_message("--items: cannot read", file_.path(), errno));
    if (got == 0) at_end_ = true;
    filled_ += static_cast<std::size_t>(got);
    offset_ += static_cast<std::uint64_t>(got);
  }

  const ItemFile& file_;
  std::uint64_t left_;
  std::vector<char> buffer_ = std::vector<char>(std::size_t{1} << 20);
  std::size_t at_ = 0, filled_ = 0;
  std::uint64_t offset_ = 0;
  bool at_end_ = false;
};

// No strings: the other ranks' part of a column that rank 0 writes.
class NoStrings final : public ColumnReader<std::string_view> {
 public:
  std::size_t read(std::string_view*, std::size_t) override { return 0; }
};

// A thread's worker (--worker) and what it printed for the items at hand.
struct Worker {
  std::unique_ptr<Child> child;
  std::string reply;
};

// An item's key is its index and its output, so no two values ever meet
// under one key; the engine's fold of all values is not used (Failures is).
struct FoldItems {
  ItemValue operator()(const ItemValue& a, const ItemValue&) const { return a; }
};

// A rank's sorted result in memory, read as the engine's spilled pairs are:
// one way to write both.
class PairsInMemory final : public PairSource {
 public:
  PairsInMemory(std::span<const std::string_view> keys, std::span<const std::byte* const> values)
      : keys_(keys), values_(values) {}
  std::uint64_t size() const override { return keys_.size(); }
  std::uint64_t key_bytes() const override {
    std::uint64_t bytes = 0;
    for (const std::string_view key : keys_) bytes += key.size();
    return bytes;
  }
  std::unique_ptr<Cursor> open() const override { return std::make_unique<InOrder>(*this); }

 private:
  class InOrder final : public Cursor {
   public:
    explicit InOrder(const PairsInMemory& pairs) : pairs_(pairs) {}
    bool next(std::string_view& key, const std::byte*& value) override {
      if (at_ == pairs_.keys_.size()) return false;
      key = pairs_.keys_[at_];
      value = pairs_.values_[at_++];
      return true;
    }

   private:
    const PairsInMemory& pairs_;
    std::size_t at_ = 0;
  };
  std::span<const std::string_view> keys_;
  std::span<const std::byte* const> values_;
};

// A column of element(key, value) for every pair, read a batch at a time.
template <class T, class F>
class PairColumn final : public ColumnReader<T> {
 public:
  PairColumn(const PairSource& pairs, F element) : cursor_(pairs.open()), element_(element) {}
  std::size_t read(T* out, std::size_t n) override {
    std::string_view key;
    const std::byte* value;
    if constexpr (std::is_same_v<T, std::string_view>) {
      batch_.clear();
      while (!batch_.full(n) && cursor_->next(key, value)) batch_.add(element_(key, value));
      return batch_.views(out);
    } else {
      std::size_t i = 0;
      for (; i < n && cursor_->next(key, value); ++i) out[i] = element_(key, value);
      return i;
    }
  }

 private:
  std::unique_ptr<PairSource::Cursor> cursor_;
  F element_;
  detail::StringBatch batch_;
};

// `pairs` as a Column (strings: `bytes` in all), read when written.
template <class T, class F>
Column<T> column(const PairSource& pairs, F element, std::uint64_t bytes = 0) {
  return Column<T>(
      pairs.size(),
      [&pairs, element] { return std::make_unique<PairColumn<T, F>>(pairs, element); }, bytes);
}

// A field of each pair's ItemValue.
template <class T>
auto field(T ItemValue::*member) {
  return [member](std::string_view, const std::byte* bytes) { return item_value(bytes).*member; };
}

class Farm final : public TableRuntime<ItemValue, FoldItems> {
 public:
  explicit Farm(FarmConfig config)
      : config_(std::move(config)),
        on_stdin_(config_.command.find("{}") == std::string::npos),
        program_(config_.worker.empty() ? config_.command : config_.worker) {}

  const char* name() const override { return "farm"; }
  Input input() const override { return Input::kGenerated; }
  KeyLayout key_layout() const override { return {.prefix = 8}; }
  bool prefetch_units() const override { return false; }  // an item may run for hours
  void check_on_every_rank() const override {
    if (config_.worker.empty()) {
      check_command(config_.command, "--command");
    } else {
      check_command(config_.worker, "--worker");
    }
  }

  // Rank 0: the items, one unit each, or with --worker units of up to 64
  // items, at least 256 units in all (Pool.map's chunks, and still balance).
  // The cut depends on the items alone, so that a restart from a checkpoint
  // on other ranks finds the same units. --items stays on rank 0 (the plan's
  // one source, which the checkpoint's fingerprint covers): a unit's lines go
  // with it to the rank that runs it.
  Plan plan() const override {
    std::uint64_t count = config_.range;
    if (!config_.items.empty()) {
      item_file_ = std::make_unique<ItemFile>(config_.items);
      count = item_file_->count();
    }
    const std::uint64_t per_unit =
        config_.worker.empty() ? 1 : std::clamp<std::uint64_t>(count / 256, 1, 64);
    Plan plan = plan_range(count, per_unit, "items");
    if (item_file_) {
      item_file_->cut(per_unit);
      plan.sources = {config_.items};
    }
    return plan;
  }
  bool unit_payloads() const override { return !config_.items.empty(); }
  void unit_payload(const WorkUnit& unit, std::string& out) const override {
    item_file_->read_unit(unit.source, out);
  }

  void map(const Plan&, int threads, UnitSource& units) override {
    tables_ = std::vector<KeyTable<ItemValue>>(threads);
    const int rank = world_rank();
    StderrRelay relay(rank);
    std::exception_ptr error;
    std::atomic<bool> failed{false};
#pragma omp parallel num_threads(threads)
    {
      const int thread = omp_get_thread_num();
      std::string key;
      Worker worker;
      // Items may run for minutes: meanwhile thread 0 keeps the scheduler's messages going.
      std::function<void()> tick;
      if (thread == 0) tick = [&units] { units.while_busy(true); };
      std::vector<std::string> items;
      while (const auto unit = units.next(thread == 0)) {
        const std::string payload = units.take_payload(*unit);
        if (!failed) {
          try {
            items_of(*unit, payload, items);
            if (config_.worker.empty()) {
              for (std::uint64_t i = unit->begin; i < unit->end; ++i) {
                run_item(i, items[i - unit->begin], rank, thread, relay, tick, key,
                         tables_[thread]);
              }
            } else {
              run_on_worker(*unit, items, rank, thread, relay, tick, key, tables_[thread], worker);
            }
          } catch (...) {
#pragma omp critical(gridmr_farm_error)
            if (!error) error = std::current_exception();
            failed = true;
          }
        }
        units.done(*unit);
        if (!failed) {
          try {
            after_unit(units, tables_[thread], spiller_);
          } catch (...) {
#pragma omp critical(gridmr_farm_error)
            if (!error) error = std::current_exception();
            failed = true;
          }
        }
      }
      // Every item answered: the worker gets end of input, and a while to end.
      if (worker.child) {
        worker.child->limit_from_now(kWorkerGrace);
        if (worker.child->finish([](std::string_view) {}).timed_out) {
          std::fputs(fmt::format("gridmr: rank {}: warning: a worker did not end within {:.0f} s "
                                 "of the end of its input and was killed\n",
                                 rank, kWorkerGrace)
                         .c_str(),
                     stderr);
        }
      }
    }
    relay.report_suppressed();
    if (error) std::rethrow_exception(error);
  }
  // Too many failures: the job fails, naming the first failed item.
  void finish_reduce(std::span<const std::string_view> keys,
                     std::span<const std::byte* const> values, const std::byte*, int) override {
    judge_failures(count_failures(PairsInMemory(keys, values)));
  }

  void finish_spilled(const PairSource& pairs, const std::byte*, int) override {
    judge_failures(count_failures(pairs));
  }

  void write(Output& out, std::span<const std::string_view> keys,
             std::span<const std::byte* const> values, std::uint64_t total_keys, std::uint64_t,
             const std::byte*, const Plan&) const override {
    write_items(out, PairsInMemory(keys, values), total_keys);
  }
  bool writes_spilled() const override { return true; }
  void write_spilled(Output& out, const PairSource& pairs, std::uint64_t total_keys, std::uint64_t,
                     const std::byte*, const Plan&) const override {
    write_items(out, pairs, total_keys);
  }

 private:
  // This rank's failed items (a key is the item's index, then its stdout).
  static Failures count_failures(const PairSource& pairs) {
    Failures mine;
    const auto cursor = pairs.open();
    std::string_view key;
    const std::byte* value;
    while (cursor->next(key, value)) {
      mine.add(detail::decode_ordered<std::uint64_t>(key.data()), item_value(value));
    }
    return mine;
  }

  // Every rank (collective), with this rank's failures: all of them, and the
  // job fails if they are more than --max-failures, naming the first.
  void judge_failures(const Failures& mine) {
    if (!config_.items.empty()) {  // every rank: rank 0 says whether the items changed
      int changed = item_file_ && !item_file_->unchanged() ? 1 : 0;
      MPI_Bcast(&changed, 1, MPI_INT, 0, MPI_COMM_WORLD);
      if (changed != 0) {
        throw RunError(fmt::format("--items: {} changed while the job ran; no output written",
                                   quote_path(config_.items)));
      }
    }
    Failures all;
    MPI_Allreduce(&mine.count, &all.count, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    failed_ = all.count;
    if (all.count == 0) return;
    // The first failed item, and how it ended, from the rank that holds it.
    MPI_Allreduce(&mine.first, &all.first, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    std::int32_t how[2] = {mine.first_exit_code, static_cast<std::int32_t>(mine.first_timed_out)};
    int holder = mine.first == all.first ? world_rank() : INT_MAX, first_holder = 0;
    MPI_Allreduce(&holder, &first_holder, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Bcast(how, 2, MPI_INT32_T, first_holder, MPI_COMM_WORLD);
    all.first_exit_code = how[0];
    all.first_timed_out = static_cast<std::uint32_t>(how[1]);
    std::string first = fmt::format("item {}", all.first);
    if (!config_.items.empty()) {  // a long item is cut: the message stays one readable line
      const std::string item = item_of(all.first);
      first += " (" + quote_path(item.substr(0, kStderrLineBytes));
      if (item.size() > kStderrLineBytes) first += fmt::format("..., {} bytes", item.size());
      first += ")";
    }
    std::string why =
        fmt::format("{} {}", first,
                    describe_item(all.first_exit_code, all.first_timed_out != 0, config_.timeout));
    if (const std::string line = stderr_line_of(all.first); !line.empty()) {
      why += fmt::format("; its last stderr line: \"{}\"", line);
    }
    if (static_cast<std::int64_t>(all.count) > config_.max_failures) {
      throw RunError(
          fmt::format("farm: {} of the items failed (more than --max-failures {}); "
                      "first: {} {} for {}; no output written",
                      all.count, config_.max_failures,
                      config_.worker.empty() ? "command" : "worker", quote_path(program_), why));
    }
    if (world_rank() == 0) {
      std::fputs(fmt::format("gridmr: warning: {} item{} failed and {} recorded as such "
                             "(--max-failures {}); first: {}\n",
                             all.count, all.count == 1 ? "" : "s", all.count == 1 ? "is" : "are",
                             config_.max_failures, why)
                     .c_str(),
                 stderr);
    }
  }

  // Every item's text, stdout and how it ended, read a piece at a time from
  // this rank's pairs (in item order: a key is the item's index, then its stdout).
  void write_items(Output& out, const PairSource& pairs, std::uint64_t total_keys) const {
    const std::uint64_t n = pairs.size();
    if (config_.items.empty()) {
      const auto item = [](std::string_view key, const std::byte*) {
        return std::to_string(detail::decode_ordered<std::uint64_t>(key.data()));
      };
      std::uint64_t item_bytes = 0;
      {
        const auto cursor = pairs.open();
        std::string_view key;
        const std::byte* value;
        while (cursor->next(key, value)) item_bytes += item(key, value).size();
      }
      out.write_keys("farm/items", column<std::string_view>(pairs, item, item_bytes));
    } else {
      out.write_keys("farm/items", item_column(total_keys));
    }
    out.write_keys("farm/stdout",
                   column<std::string_view>(
                       pairs, [](std::string_view key, const std::byte*) { return key.substr(8); },
                       pairs.key_bytes() - 8 * n));
    out.write("farm/exit_code", column<std::int32_t>(pairs, field(&ItemValue::exit_code)));
    out.write("farm/timed_out", column<std::uint32_t>(pairs, field(&ItemValue::timed_out)));
    out.write("farm/seconds", column<double>(pairs, field(&ItemValue::seconds)));
    out.write("farm/attempts", column<std::uint32_t>(pairs, field(&ItemValue::attempts)));
    out.write("farm/rank", column<std::uint32_t>(pairs, field(&ItemValue::rank)));
    out.attribute("farm", "command", program_);
    out.attribute("farm", "worker", std::uint64_t{config_.worker.empty() ? 0u : 1u});
    out.attribute("farm", "items", total_keys);
    out.attribute("farm", "failed", failed_);
  }

  // --items: every item, read from the file on rank 0 (which writes them all,
  // the result being in item order), none elsewhere. Streamed on every rank.
  Column<std::string_view> item_column(std::uint64_t total_keys) const {
    if (!item_file_) return {0, [] { return std::make_unique<NoStrings>(); }};
    if (total_keys != item_file_->count()) {
      throw RunError(
          fmt::format("internal error: {} results for {} items", total_keys, item_file_->count()));
    }
    const ItemFile& file = *item_file_;
    return {file.count(), [&file] { return std::make_unique<ItemLines>(file); }, file.item_bytes()};
  }

  void run_item(std::uint64_t index, const std::string& item, int rank, int thread,
                StderrRelay& relay, const std::function<void()>& tick, std::string& key,
                KeyTable<ItemValue>& table) {
    ItemValue value;
    value.rank = static_cast<std::uint32_t>(rank);
    std::string output, last_stderr;
    const auto started = std::chrono::steady_clock::now();
    ChildStatus status;
    do {
      ++value.attempts;
      status = run_command(item, index, rank, thread, relay, tick, output, last_stderr);
    } while (!status.ok() && static_cast<std::int64_t>(value.attempts) <= config_.retries);
    value.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    settle(value, index, status, last_stderr);
    add(key, index, output, value, table);
  }

  // A unit's items: its payload's lines (--items), or its numbers (--range).
  void items_of(const WorkUnit& unit, std::string_view payload,
                std::vector<std::string>& items) const {
    if (config_.items.empty()) {
      items.clear();
      for (std::uint64_t i = unit.begin; i < unit.end; ++i) items.push_back(std::to_string(i));
      return;
    }
    if (!ItemFile::split_lines(payload, unit.end - unit.begin, items)) {
      throw RunError(
          fmt::format("--items: {} changed while the job ran (items {} to {} are no "
                      "longer where they were)",
                      quote_path(config_.items), unit.begin, unit.end - 1));
    }
  }

  // Every rank (collective): item `index`'s text, read on rank 0.
  std::string item_of(std::uint64_t index) const {
    std::string item;
    if (item_file_) item = item_file_->item(index);
    std::uint64_t size = item.size();
    MPI_Bcast(&size, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    item.resize(size);
    MPI_Bcast(item.data(), static_cast<int>(size), MPI_CHAR, 0, MPI_COMM_WORLD);
    return item;
  }

  // How an item ended, into its value (a failure is also its fold's first).
  void settle(ItemValue& value, std::uint64_t index, const ChildStatus& status,
              std::string_view last_stderr) {
    value.exit_code = status.exit_code;
    value.timed_out = status.timed_out ? 1 : 0;
    if (status.ok()) return;
    const std::lock_guard lock(first_failure_mutex_);
    if (index < first_failure_.index) {
      first_failure_.index = index;
      first_failure_.stderr_line = last_stderr.substr(0, kStderrLineBytes);
    }
  }

  // Every rank (collective): the last stderr line of failed item `index`,
  // from the rank that ran it; "" if it printed none, or if it failed before
  // a restart from a checkpoint (the line is not kept there).
  std::string stderr_line_of(std::uint64_t index) const {
    int holder = first_failure_.index == index ? world_rank() : -1;
    MPI_Allreduce(MPI_IN_PLACE, &holder, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (holder < 0) return {};
    std::string line = first_failure_.stderr_line;
    std::uint64_t size = line.size();
    MPI_Bcast(&size, 1, MPI_UINT64_T, holder, MPI_COMM_WORLD);
    line.resize(size);
    MPI_Bcast(line.data(), static_cast<int>(size), MPI_CHAR, holder, MPI_COMM_WORLD);
    return line;
  }

  // A table key: the item's number (8 bytes, in order), then its stdout.
  static void add(std::string& key, std::uint64_t index, std::string_view output,
                  const ItemValue& value, KeyTable<ItemValue>& table) {
    key.assign(ordered_key(index).bytes, 8);
    key += output;
    table.upsert(std::string_view(key), value, FoldItems{});
  }

  // One attempt of --command for an item: its own process.
  ChildStatus run_command(const std::string& item, std::uint64_t index, int rank, int thread,
                          StderrRelay& relay, const std::function<void()>& tick,
                          std::string& output, std::string& last_stderr) {
    const std::string command = on_stdin_ ? config_.command : expand(config_.command, item);
    output.clear();
    Child child(command,
                {fmt::format("GRIDMR_RANK={}", rank), fmt::format("GRIDMR_THREAD={}", thread),
                 fmt::format("GRIDMR_ITEM={}", index)},
                Limits{0, config_.timeout}, &relay, fmt::format("item {}", index));
    child.while_waiting(tick);
    const auto collect = [&output](std::string_view bytes) { output.append(bytes); };
    if (on_stdin_) child.write(item + "\n", collect);  // a command may ignore its stdin
    const ChildStatus status = child.finish(collect);
    last_stderr = child.last_stderr_line();
    return status;
  }

  // --worker: a unit's items go to the thread's worker together (written
  // while its answers are read back), one line each, and come back one line
  // each, in order; an item's time runs from the previous answer. When the
  // worker ends (or times out) at an item, that item has failed an attempt;
  // the items after it, sent but not begun, go to a new worker as they are.
  // A worker may hold answers back for a moment to write them together
  // (gridmr_stream.serve does, for a few milliseconds): when a signal ends
  // one (a crash, the OOM killer) with more than one item unanswered, its
  // last answers may be lost and the first unanswered item is not known to
  // be the one that ended it. Then the rest of the unit goes to a new worker
  // one item at a time (each answered before the next is sent, which leaves
  // nothing to hold back), and no attempt is counted until an item ends a
  // worker so. An exit is taken at its word (a program that exits flushes),
  // and so is --timeout: held answers are milliseconds old, not seconds.
  void run_on_worker(const WorkUnit& unit, const std::vector<std::string>& items, int rank,
                     int thread, StderrRelay& relay, const std::function<void()>& tick,
                     std::string& key, KeyTable<ItemValue>& table, Worker& worker) {
    const std::uint64_t n = unit.end - unit.begin;
    std::vector<ItemValue> values(n);
    std::vector<std::string> outputs(n);
    for (ItemValue& value : values) value.rank = static_cast<std::uint32_t>(rank);
    std::uint64_t next = 0;  // the first item (of the unit) without an answer
    bool one_at_a_time = false;
    while (next < n) {
      if (!worker.child) {
        std::vector<std::string> environment{fmt::format("GRIDMR_RANK={}", rank),
                                             fmt::format("GRIDMR_THREAD={}", thread)};
        // Python writes each print() out at once, as a worker must (unless the user says)
        if (std::getenv("PYTHONUNBUFFERED") == nullptr) {
          environment.emplace_back("PYTHONUNBUFFERED=1");
        }
        worker.child = std::make_unique<Child>(config_.worker, environment,
                                               Limits{0, config_.timeout}, &relay, "worker");
        worker.child->while_waiting(tick);
      }
      const std::uint64_t asked = next;  // the items asked this time: [asked, until)
      const std::uint64_t until = one_at_a_time ? next + 1 : n;
      std::string request;
      for (std::uint64_t i = asked; i < until; ++i) {
        request += items[i];
        request += '\n';
      }
      worker.reply.clear();
      std::size_t taken = 0;  // reply bytes already answers
      auto clock = std::chrono::steady_clock::now();
      Child& child = *worker.child;
      const auto collect = [&](std::string_view bytes) {
        worker.reply.append(bytes);
        std::size_t newline;
        while (next < until && (newline = worker.reply.find('\n', taken)) != std::string::npos) {
          std::string& output = outputs[next];
          output.assign(worker.reply, taken, newline - taken);
          if (!output.empty() && output.back() == '\r') output.pop_back();
          const auto now = std::chrono::steady_clock::now();
          ItemValue& value = values[next];
          ++value.attempts;
          value.seconds += std::chrono::duration<double>(now - clock).count();
          clock = now;
          taken = newline + 1;
          ++next;
          child.limit_from_now(config_.timeout);  // the next item's time
        }
      };
      // A worker that holds its answers until its input ends gets the unit's
      // items and the end of its input: a worker per unit (see holds_answers).
      const bool per_unit = per_unit_workers_.load(std::memory_order_relaxed);
      bool ok = false;
      if (per_unit) {
        // Its answers come when its input ends: each item has --timeout,
        // all of them before the first answer.
        child.limit_from_now(config_.timeout * static_cast<double>(until - asked));
        child.write(request, collect);  // then finish() below ends its input
      } else {
        ok = child.ask(request, collect, [&] { return next == until; });
        if (child.stalled()) {  // it may begin its items at the end of its input, as below
          holds_answers(rank);
          child.limit_from_now(config_.timeout * static_cast<double>(until - next));
        }
      }
      // More lines than items: no answer this worker gave to this request
      // can be trusted to be whose it seems. They all fail, and the worker goes.
      const auto too_many_lines = [&] {
        worker.child.reset();
        ChildStatus status;
        status.exit_code = kLineTooMany;
        for (std::uint64_t i = asked; i < until; ++i) settle(values[i], unit.begin + i, status, "");
        next = until;
      };
      if (ok) {
        if (taken != worker.reply.size()) too_many_lines();
        continue;
      }
      std::string last_stderr = child.last_stderr_line();
      ChildStatus status = child.finish(collect);  // its last answers still count
      if (!child.last_stderr_line().empty()) last_stderr = child.last_stderr_line();
      const bool answers_at_end = per_unit || child.stalled();
      worker.child.reset();
      if (next == until) {  // it answered everything, then ended
        if (answers_at_end && taken != worker.reply.size()) too_many_lines();
        continue;
      }
      if (until - next > 1 && status.signal != 0 && !status.timed_out) {
        one_at_a_time = true;  // which item ended it is not known yet
        continue;
      }
      if (status.ok()) status.exit_code = kNoAnswer;
      ItemValue& value = values[next];
      ++value.attempts;
      value.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - clock).count();
      if (static_cast<std::int64_t>(value.attempts) > config_.retries) {
        outputs[next].assign(worker.reply, taken);  // what it printed of its answer
        settle(value, unit.begin + next, status, last_stderr);
        ++next;
      }
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      add(key, unit.begin + i, outputs[i], values[i], table);
    }
  }

  // A worker held its answers until its input ended (Child::stalled): from
  // now on every unit of this rank gets a worker of its own, which gets the
  // end of its input after the unit's items. Said once per rank.
  void holds_answers(int rank) {
    if (per_unit_workers_.exchange(true)) return;
    std::fputs(fmt::format("gridmr: rank {}: warning: the worker holds its answers back until its "
                           "input ends (it read a unit's items and waits for more), so each unit "
                           "of items now gets a worker of its own; to keep one, write each answer "
                           "out at once (C: fflush(stdout); Perl: $| = 1; mawk: -W interactive; "
                           "Python: print(..., flush=True))\n",
                           rank)
                   .c_str(),
               stderr);
  }

  // The lowest failed item this rank ran, with its last stderr line (cut to
  // kStderrLineBytes) for the job's message.
  struct FirstFailure {
    std::uint64_t index = UINT64_MAX;
    std::string stderr_line;
  };
  static constexpr std::size_t kStderrLineBytes = 200;

  FarmConfig config_;
  std::mutex first_failure_mutex_;
  FirstFailure first_failure_;
  std::uint64_t failed_ = 0;  // items that failed, on all ranks (judge_failures)
  bool on_stdin_;
  std::atomic<bool> per_unit_workers_{false};  // see holds_answers()
  std::string program_;                          // --command or --worker
  mutable std::unique_ptr<ItemFile> item_file_;  // rank 0, --items: made by plan()
};

std::unique_ptr<JobRuntime> make_farm(const FarmConfig& config) {
  if (config.command.empty() == config.worker.empty()) {
    throw UsageError("farm: give either --command CMD or --worker CMD");
  }
  if (!config.worker.empty() && config.worker.find("{}") != std::string::npos) {
    throw UsageError("--worker: the items come on its stdin, one per line; {} is for --command");
  }
  if (config.items.empty() == (config.range == 0)) {
    throw UsageError("farm: give either --items FILE or --range N");
  }
  if (config.retries < 0) throw UsageError("--retries: must be >= 0");
  if (config.max_failures < 0) throw UsageError("--max-failures: must be >= 0");
  if (config.timeout < 0 || !std::isfinite(config.timeout)) {
    throw UsageError("--timeout: must be a number of seconds >= 0");
  }
  return std::make_unique<Farm>(config);
}

}  // namespace

}  // namespace stream

namespace stream {
namespace {

// `gridmr show` of a farm result: the counts, then the first `top` items with
// how they ended and the first line of their stdout.
void show_farm(const ResultFile& file, std::size_t top, std::FILE* out) {
  const std::uint64_t items = file.uint_attribute("farm", "items");
  const bool worker =
      file.has_attribute("farm", "worker") && file.uint_attribute("farm", "worker") != 0;
  std::fprintf(
      out, "farm:     %llu items, %llu failed; %s %s\n", static_cast<unsigned long long>(items),
      static_cast<unsigned long long>(file.uint_attribute("farm", "failed")),
      worker ? "worker" : "command", quote_path(file.string_attribute("farm", "command")).c_str());
  const std::size_t n = std::min<std::uint64_t>(top, items);
  if (n == 0) return;
  const auto item_offsets = file.read_u64("farm/items/offsets");
  const auto out_offsets = file.read_u64("farm/stdout/offsets");
  const auto codes = file.read_doubles("farm/exit_code");
  const auto attempts = file.read_u64("farm/attempts");
  const auto seconds = file.read_doubles("farm/seconds");
  std::fprintf(out, "first %zu:\n  %-20s %5s %8s %9s  %s\n", n, "item", "exit", "attempts",
               "seconds", "stdout (first line)");
  for (std::size_t i = 0; i < n; ++i) {
    std::string item =
        file.read_bytes("farm/items/data", item_offsets[i], item_offsets[i + 1]).substr(0, 20);
    std::string text = file.read_bytes("farm/stdout/data", out_offsets[i],
                                       std::min(out_offsets[i + 1], out_offsets[i] + 200));
    text = text.substr(0, text.find('\n')).substr(0, 60);
    for (char& c : item) c = (c < 0x20 || c == 0x7f) ? '?' : c;
    for (char& c : text) c = (c < 0x20 || c == 0x7f) ? '?' : c;
    std::fprintf(out, "  %-20s %5.0f %8llu %9.3f  %s\n", item.c_str(), codes[i],
                 static_cast<unsigned long long>(attempts[i]), seconds[i], text.c_str());
  }
}

}  // namespace
}  // namespace stream

JobEntry farm_command() {
  auto config = std::make_shared<stream::FarmConfig>();
  return JobEntry{
      "farm",
      "Run a command once per item (a line of a file, or 0..N-1), or feed the items to "
      "long-lived workers, across the ranks, like Pool.map",
      Input::kGenerated,
      [config](JobOptions& options) {
        options
            .text("--command", config->command,
                  "Command run by /bin/sh per item: {} is replaced by the item (quoted); "
                  "without {} the item comes on stdin; this or --worker is required")
            .text("--worker", config->worker,
                  "Instead of --command: a command started once per thread that reads items, "
                  "one per line, and prints one line per item, flushed (Python: "
                  "gridmr_stream.serve(function), docs/streaming.md)")
            .input_file("--items", config->items,
                        "File with one item per line (.gz, .zst, .bz2, .xz: read decompressed)")
            .count("--range", config->range, "The items are 0 .. N-1")
            .integer("--retries", config->retries, "Attempts after the first for a failed item")
            .number("--timeout", config->timeout,
                    "Seconds an attempt may run before it is killed (and counts as failed; "
                    "a worker is restarted); 0: no limit")
            .integer("--max-failures", config->max_failures,
                     "Items that may still fail after their retries; with more, the job fails "
                     "and writes nothing");
      },
      [config] { return stream::make_farm(*config); },
      stream::show_farm};
}

}  // namespace gridmr
