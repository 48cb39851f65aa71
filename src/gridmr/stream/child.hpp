// A child process that a streaming job or a farm talks to through pipes: its
// own process group, stdin fed while stdout is read (never a deadlock,
// whatever either side buffers), stderr relayed line by line with a cap, and
// time limits.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gridmr::stream {

// Children's stderr on this rank: each line goes to gridmr's stderr prefixed
// with "rank R: ", up to `max_lines` lines per rank; the rest are counted and
// summed up once by report_suppressed(). Thread-safe.
class StderrRelay {
 public:
  explicit StderrRelay(int rank, std::uint64_t max_lines = 50) : rank_(rank), max_(max_lines) {}
  void line(std::string_view what, std::string_view text);
  void report_suppressed();

 private:
  int rank_;
  std::uint64_t max_;
  std::atomic<std::uint64_t> lines_{0};
};

// How a child ended.
struct ChildStatus {
  int exit_code = 0;  // when it exited
  int signal = 0;     // when a signal ended it (then exit_code is 128 + signal)
  bool timed_out = false;

  bool ok() const { return signal == 0 && exit_code == 0 && !timed_out; }
  // "exited with status 3", "was killed by SIGSEGV", "timed out after 5 s and was killed"
  std::string describe(double timeout_seconds) const;
};

// Time limits: `idle` ends a child that neither reads nor writes for that
// long; `total` ends one that runs longer than that. Zero means no limit.
struct Limits {
  double idle_seconds = 0;
  double total_seconds = 0;
};

class Child {
 public:
  using OnOutput = std::function<void(std::string_view bytes)>;

  // Runs `/bin/sh -c command` in a new process group, with `environment`
  // ("NAME=value") added to gridmr's own. `what` names the child in relayed
  // stderr lines ("mapper"). Throws RunError if it cannot be started.
  Child(const std::string& command, const std::vector<std::string>& environment, Limits limits,
        StderrRelay* relay, std::string what);
  ~Child();  // kills the group if it still runs, and waits for it
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Writes `input` to the child's stdin, passing whatever it prints on stdout
  // to `on_output` meanwhile (in pieces of any size, each followed by at least
  // kViewPadding readable bytes of no meaning: keys in it may be PaddedViews).
  // Returns false if the child stopped reading (it closed its stdin or ended);
  // then call finish() for its status.
  bool write(std::string_view input, const OnOutput& on_output);
  // The same for bytes [begin, end) of the file `path`, moved from the page
  // cache into the pipe without passing through gridmr (splice; read and
  // write where the file system cannot). Throws RunError if the file ends
  // before `end`.
  bool write_file(const std::string& path, std::uint64_t begin, std::uint64_t end,
                  const OnOutput& on_output);
  // Closes stdin, reads stdout to its end and waits for the child to end.
  ChildStatus finish(const OnOutput& on_output);
  // For a long-lived child that answers one request at a time (a farm's
  // worker): writes `request`, then reads stdout into `on_output` until
  // `answered()` is true (asked after each piece of output). The time limits
  // and last_stderr_line() start afresh. Returns false if the child ended or
  // timed out first; then call finish() for its status.
  bool ask(std::string_view request, const OnOutput& on_output,
           const std::function<bool()>& answered);

  // Replaces the time limits by one of `total_seconds` from now (a worker's
  // time to end once its input ends).
  void limit_from_now(double total_seconds);

  // The last line the child wrote on stderr (empty if none).
  const std::string& last_stderr_line() const { return last_stderr_; }

  // Whether ask() gave up because the child holds its answers until its
  // input ends: it read the whole request and every process of its group has
  // slept since, in read() of a pipe (one of them its stdin) or waiting for
  // one of the others, with nothing in its stdout pipe. It is then a block-
  // buffered program (C stdio, mawk, Python without flush): gridmr waits for
  // its answers and it waits for more input. finish() still gets them.
  bool stalled() const { return stalled_; }

  // Calls `tick` about every kTickInterval while waiting for the child (on
  // rank 0's thread 0, the scheduler answers the other ranks meanwhile, so
  // that a long item or unit here does not leave them without work).
  void while_waiting(std::function<void()> tick) { tick_ = std::move(tick); }
  static constexpr std::chrono::milliseconds kTickInterval{20};

 private:
  // What pump() writes to stdin: bytes, or a range of an open file.
  struct Feed {
    std::string_view bytes;
    int fd = -1;
    std::uint64_t offset = 0, end = 0;
    const std::string* path = nullptr;
    bool no_splice = false;  // the file system cannot splice: read() and write()
    std::string copied;      // read from the file that way, not yet written
    bool empty() const { return fd >= 0 ? offset >= end && copied.empty() : bytes.empty(); }
  };
  // Moves bytes until `input` is written (or, without input, until stdout
  // and stderr end, or until `until` is true or stdout ends).
  void pump(Feed* input, const OnOutput& on_output, const std::function<bool()>* until = nullptr);
  // Writes some of a file feed: false if the child stopped reading.
  bool write_some_of_file(Feed& input);
  void relay_stderr(const char* data, std::size_t size);
  void kill_group();
  void close_fd(int& fd);
  void check_time(std::chrono::steady_clock::time_point now);
  // Watches a child that is asked for answers (see stalled()); true once it
  // has waited for input twice in a row, kStallRecheck apart, idle between.
  bool check_stall(std::chrono::steady_clock::time_point now);
  bool waits_for_input() const;

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  Limits limits_;
  StderrRelay* relay_;
  std::string what_;
  std::string stderr_pending_, last_stderr_;
  std::vector<char> read_buffer_;
  std::chrono::steady_clock::time_point started_, last_activity_;
  bool timed_out_ = false;
  bool reaped_ = false;
  bool guarded_ = false;  // the group's leader is gridmr's guardian (a compound command)
  bool stalled_ = false;
  std::chrono::steady_clock::time_point stall_seen_{}, next_stall_check_{}, stall_checked_at_{};
  std::chrono::steady_clock::duration stall_interval_{};  // see check_stall()
  std::function<void()> tick_;
  std::chrono::steady_clock::time_point last_tick_;
  ChildStatus status_;
};

// Checks on this rank that `command`'s program exists and may be run: the
// first word of the command (after `exec` and NAME=value assignments) found on
// PATH or as a path. Shell keywords and builtins pass. Throws UsageError
// naming `option` and the program.
void check_command(const std::string& command, const std::string& option);

// Whether `program` (a name without '/') is an executable file in a folder of PATH.
bool found_on_path(const std::string& program);

// `text` in single quotes for /bin/sh: the item of a farm, say.
std::string shell_quote(std::string_view text);

}  // namespace gridmr::stream
