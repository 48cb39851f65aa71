// Child processes behind pipes: clone (or fork) and exec of /bin/sh -c, one poll loop for
// stdin, stdout and stderr, and an end on every path (no orphans).
#include "gridmr/stream/child.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "gridmr/core/program_path.hpp"
#include "gridmr/core/whole_io.hpp"
#include "gridmr/detail/padded_view.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/runtime/children.hpp"

extern char** environ;

namespace gridmr::stream {

namespace {

constexpr std::size_t kChunk = 1 << 16;
// Bytes read from a child's stdout at once, and the size its pipes are given
// (Linux's default is 64 KiB; where the system allows 1 MiB, the mapper and
// the rank wake each other up a sixteenth as often).
constexpr std::size_t kPipeBytes = 1 << 20;
constexpr std::size_t kMaxStderrLine = 400;
// A child asked for answers is looked at (in /proc) once it has been silent
// this long, and again kStallRecheck later (less often while it stays silent
// without being stalled: a look may read all of /proc). What is looked for
// is a state that only the end of its input can change (see stalled()); two
// looks guard against a process caught between two reads.
constexpr std::chrono::milliseconds kStallAfter{500};
constexpr std::chrono::milliseconds kStallRecheck{250};
constexpr std::chrono::milliseconds kStallRecheckMax{8000};

void write_all_stderr(const std::string& text) {
  [[maybe_unused]] const bool written = write_fully(STDERR_FILENO, text.data(), text.size());
}

// A write to a child that has gone must fail with EPIPE, not kill the rank.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, kMaxStderrLine)) {
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > kMaxStderrLine) out += "...";
  return out;
}

// "PYTHONPATH=..." with the folder of gridmr_stream.py (the Python side of
// `gridmr stream`: users' functions as mapper and reducer) first, gridmr's own
// PYTHONPATH after it; "" if no folder holds the module. The folder is
// share/gridmr/python beside this program in the build tree, or
// ../share/gridmr/python from an installed bin/. Found once per process.
const std::string& python_path_entry() {
  static const std::string entry = [] {
    const std::string dir = this_program_folder();
    if (dir.empty()) return std::string();
    for (const char* relative : {"/share/gridmr/python", "/../share/gridmr/python"}) {
      const std::string folder = dir + relative;
      if (::access((folder + "/gridmr_stream.py").c_str(), R_OK) != 0) continue;
      std::string value = "PYTHONPATH=" + folder;
      if (const char* path = std::getenv("PYTHONPATH"); path != nullptr && *path != '\0') {
        value += ':';
        value += path;
      }
      return value;
    }
    return std::string();
  }();
  return entry;
}

// The environment of a child: gridmr's, with `extra` ("NAME=value") set over
// it, and PYTHONPATH led by the folder of gridmr_stream.py (so that a Python
// mapper can `import gridmr_stream` with nothing installed by hand).
std::vector<std::string> child_environment(const std::vector<std::string>& given) {
  std::vector<std::string> extra = given;
  if (const std::string& python_path = python_path_entry(); !python_path.empty()) {
    extra.push_back(python_path);
  }
  std::vector<std::string> result;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('=') + 1);
    const bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return std::string_view(x).substr(0, x.find('=') + 1) == name;
    });
    if (!replaced) result.emplace_back(entry);
  }
  result.insert(result.end(), extra.begin(), extra.end());
  return result;
}

// One program with its arguments, quoted or not: no operator, redirection,
// group or substitution outside quotes, and no NAME=value first.
bool is_simple_command(std::string_view command) {
  const std::size_t first = command.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  const std::string_view head = command.substr(first);
  if (head.substr(0, head.find_first_of(" \t")).find('=') != std::string_view::npos) return false;
  char quote = 0;
  for (std::size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else if (quote == '"' && (c == '`' || c == '$' || c == '\\'))
        return false;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (std::string_view(";&|<>()`\n{}$\\").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return quote == 0;
}

// What a new child needs, all made before it starts: between fork (or clone)
// and exec only async-signal-safe calls are allowed (other threads may hold
// locks), and a clone child shares the rank's memory.
struct Launch {
  int in[2], out[2], err[2];  // the three pipes (the child's ends: in[0], out[1], err[1])
  const char* const* argv;
  char* const* envp;
  pid_t parent;  // the process that starts the shell
};

// In a new child: every signal the rank handles (gridmr's, Open MPI's) back to
// its default, and SIGPIPE too, which the rank ignores and exec would keep.
void reset_signal_handlers() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) {
    struct sigaction now {};
    if (s == SIGKILL || s == SIGSTOP || ::sigaction(s, nullptr, &now) != 0) continue;
    if (s == SIGPIPE || now.sa_handler != SIG_DFL) ::sigaction(s, &dfl, nullptr);
  }
}

// In the shell's process: tied to its parent's life, stdio on the pipes, no
// other descriptor, no blocked signal; then /bin/sh -c.
[[noreturn]] void exec_shell(const Launch& l, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the parent was killed: do not outlive it
  if (::getppid() != parent) ::_exit(127);
  ::dup2(l.in[0], STDIN_FILENO);
  ::dup2(l.out[1], STDOUT_FILENO);
  ::dup2(l.err[1], STDERR_FILENO);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::close_range(3, UINT_MAX, 0);  // MPI's sockets and shared memory stay with the rank
  ::execve("/bin/sh", const_cast<char* const*>(l.argv), l.envp);
  ::_exit(127);
}

// A simple command's child, started by clone below.
int start_simple_command(void* launch) {
  const Launch& l = *static_cast<const Launch*>(launch);
  ::setpgid(0, 0);
  reset_signal_handlers();
  exec_shell(l, l.parent);
}

// Starts the child of a simple command the way posix_spawn does: clone with
// CLONE_VM | CLONE_VFORK, so that it borrows the rank's memory until its exec
// and the rank waits that long. fork() copied the rank's page tables (MPI's
// shared memory, the libraries, the tables) and then paid copy-on-write faults
// for every page the rank touched: 1.3 ms of CPU per child, most of a farm
// item's cost. The rank's signals stay blocked until the child has reset its
// handlers: a handler must never run in the child, on the rank's memory.
pid_t spawn_sharing_memory(const Launch& l) {
  constexpr std::size_t kStack = 256 * 1024;
  std::vector<char> stack(kStack);
  sigset_t all, before;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = ::clone(start_simple_command, stack.data() + kStack,
                            CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<Launch*>(&l));
  const int error = errno;
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  errno = error;
  return pid;
}

// A compound command (a pipeline, a list) runs under a guardian: a forked
// process, the leader of the command's process group. If the rank dies, even
// by SIGKILL, the kernel tells the guardian (PR_SET_PDEATHSIG), and it kills
// the whole group, grandchildren included; otherwise it waits for the shell
// and ends as the shell did (same exit code, same signal). It lives on after
// the exec of the shell, so it cannot share the rank's memory: fork.
pid_t fork_with_guardian(const Launch& l) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setpgid(0, 0);
  reset_signal_handlers();
  sigset_t none, watched;
  ::sigemptyset(&none);
  ::sigemptyset(&watched);
  ::sigaddset(&watched, SIGUSR1);
  ::sigaddset(&watched, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &watched, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGUSR1);
  ::prctl(PR_SET_NAME, "gridmr-guard");  // in ps and top
  if (::getppid() != l.parent) ::_exit(127);
  const pid_t guardian = ::getpid();
  const pid_t shell = ::fork();
  if (shell == 0) exec_shell(l, guardian);  // if the guardian is gone, so is the shell
  ::close_range(0, UINT_MAX, 0);  // the pipes belong to the shell alone
  if (shell < 0) ::_exit(127);
  for (;;) {
    siginfo_t info;
    if (::sigwaitinfo(&watched, &info) < 0) continue;
    if (info.si_signo == SIGUSR1) ::kill(0, SIGKILL);  // the rank died: the whole group
    int status = 0;
    if (::waitpid(shell, &status, WNOHANG) != shell) continue;
    if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
    const int signal = WTERMSIG(status);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::kill(::getpid(), signal);  // end as the shell did
    ::_exit(128 + signal);
  }
}

// A process or thread as /proc/.../stat shows it.
struct ProcStat {
  pid_t pid = 0, ppid = 0, pgrp = 0;
  char state = 0;
};

// The start of a small /proc file ("" if it cannot be read).
std::string read_proc_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[512];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

bool read_stat(const std::string& path, ProcStat& stat) {
  const std::string text = read_proc_file(path);
  const std::size_t name_end = text.rfind(')');  // the name may hold anything, ')' too
  if (name_end == std::string::npos) return false;
  int ppid = 0, pgrp = 0;
  if (std::sscanf(text.c_str() + name_end + 1, " %c %d %d", &stat.state, &ppid, &pgrp) != 3) {
    return false;
  }
  stat.ppid = ppid, stat.pgrp = pgrp;
  return true;
}

// What a thread sleeps in: read() of a pipe (of `own_pipe`, the child's
// stdin, in particular), a wait for a child, or anything else (it runs, or
// waits for time, a lock, the network; or /proc does not say).
enum class Sleep { kOther, kReadsPipe, kReadsOwnPipe, kWaitsForChild };

Sleep sleep_of(pid_t pid, std::string_view task, const std::string& own_pipe) {
  const std::string base = fmt::format("/proc/{}/task/{}/", pid, task);
  ProcStat stat;
  if (!read_stat(base + "stat", stat) || stat.state != 'S') return Sleep::kOther;
  long call = -1;
  unsigned long fd = 0;
  if (std::sscanf(read_proc_file(base + "syscall").c_str(), "%ld 0x%lx", &call, &fd) != 2) {
    return Sleep::kOther;  // "running", or no permission
  }
  if (call == SYS_wait4 || call == SYS_waitid) return Sleep::kWaitsForChild;
  if (call != SYS_read) return Sleep::kOther;
  char target[64];
  const ssize_t n =
      ::readlink(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), target, sizeof target - 1);
  if (n <= 0) return Sleep::kOther;
  const std::string_view link(target, static_cast<std::size_t>(n));
  if (link == own_pipe) return Sleep::kReadsOwnPipe;
  return link.starts_with("pipe:") ? Sleep::kReadsPipe : Sleep::kOther;
}

// Whether every thread of every process of group `group` sleeps in read()
// of a pipe, at least one of them of `own_pipe`, or waits for a child of the
// group (a process with a child outside the group may wait for real work).
// `skip` (gridmr's guardian, or 0) is not looked at, its children are.
bool group_waits_for_input(pid_t group, pid_t skip, const std::string& own_pipe) {
  std::vector<ProcStat> processes;
  if (DIR* proc = ::opendir("/proc")) {
    while (const dirent* entry = ::readdir(proc)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      ProcStat stat;
      if (!read_stat(fmt::format("/proc/{}/stat", entry->d_name), stat)) continue;
      stat.pid = static_cast<pid_t>(std::atoi(entry->d_name));
      processes.push_back(stat);
    }
    ::closedir(proc);
  }
  std::unordered_set<pid_t> members;
  for (const ProcStat& p : processes) {
    if (p.pgrp == group) members.insert(p.pid);
  }
  for (const ProcStat& p : processes) {
    if (members.count(p.ppid) != 0 && members.count(p.pid) == 0) return false;
  }
  bool reads_own = false;
  for (const pid_t pid : members) {
    if (pid == skip) continue;
    DIR* tasks = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
    if (tasks == nullptr) return false;
    bool all_wait = true;
    while (const dirent* entry = ::readdir(tasks)) {
      if (entry->d_name[0] == '.') continue;
      const Sleep sleep = sleep_of(pid, entry->d_name, own_pipe);
      if (sleep == Sleep::kOther) {
        all_wait = false;
        break;
      }
      reads_own = reads_own || sleep == Sleep::kReadsOwnPipe;
    }
    ::closedir(tasks);
    if (!all_wait) return false;
  }
  return reads_own;
}

}  // namespace

void StderrRelay::line(std::string_view what, std::string_view text) {
  const std::uint64_t n = lines_.fetch_add(1);
  if (n >= max_) return;
  write_all_stderr(fmt::format("rank {}: {}: {}\n", rank_, what, printable(text)));
}

void StderrRelay::report_suppressed() {
  const std::uint64_t n = lines_.load();
  if (n > max_) {
    write_all_stderr(
        fmt::format("rank {}: {} more lines of children's stderr not shown\n", rank_, n - max_));
  }
}

std::string ChildStatus::describe(double timeout_seconds) const {
  if (timed_out) return fmt::format("timed out after {:g} s and was killed", timeout_seconds);
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return name != nullptr ? fmt::format("was killed by SIG{}", name)
                           : fmt::format("was killed by signal {}", signal);
  }
  return fmt::format("exited with status {}", exit_code);
}

Child::Child(const std::string& command, const std::vector<std::string>& environment, Limits limits,
             StderrRelay* relay, std::string what)
    : limits_(limits), relay_(relay), what_(std::move(what)) {
  ignore_sigpipe_once();
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw RunError(errno_message("cannot create a pipe", "", errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    throw RunError(errno_message("cannot create a pipe", "", errno));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    throw RunError(errno_message("cannot create a pipe", "", errno));
  }
  for (const int fd : {in[1], out[0]}) ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(kPipeBytes));
  const std::vector<std::string> env = child_environment(environment);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // A simple command replaces the shell (exec), so that its exit status and
  // signal are its own, and it is the group's only process.
  const bool simple = is_simple_command(command);
  std::string script = simple ? "exec " : "";
  script.append(command);
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  const Launch launch{{in[0], in[1]}, {out[0], out[1]}, {err[0], err[1]},
                      argv,           envp.data(),        ::getpid()};
  pid_ = simple ? spawn_sharing_memory(launch) : fork_with_guardian(launch);
  guarded_ = !simple;
  const int fork_errno = errno;
  ::close(in[0]), ::close(out[1]), ::close(err[1]);
  in_ = in[1], out_ = out[0], err_ = err[0];
  if (pid_ < 0) {
    close_fd(in_), close_fd(out_), close_fd(err_);
    reaped_ = true;
    throw RunError(
        errno_message("cannot start " + what_ + " " + quote_path(command), "", fork_errno));
  }
  ::setpgid(pid_, pid_);  // also here: whichever runs first, the group exists before we kill it
  if (!register_child_group(pid_)) {
    kill_group();
    throw RunError("too many child processes on one rank");
  }
  for (int fd : {in_, out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  started_ = last_activity_ = std::chrono::steady_clock::now();
}

Child::~Child() {
  if (!reaped_) {
    kill_group();
    close_fd(in_), close_fd(out_), close_fd(err_);
    forget_child_group(pid_);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  close_fd(in_), close_fd(out_), close_fd(err_);
}

void Child::close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void Child::kill_group() {
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
}

void Child::check_time(std::chrono::steady_clock::time_point now) {
  using seconds = std::chrono::duration<double>;
  const bool idle =
      limits_.idle_seconds > 0 && seconds(now - last_activity_).count() >= limits_.idle_seconds;
  const bool total =
      limits_.total_seconds > 0 && seconds(now - started_).count() >= limits_.total_seconds;
  if (!idle && !total) return;
  timed_out_ = true;
  kill_group();
  close_fd(in_), close_fd(out_), close_fd(err_);
}

void Child::relay_stderr(const char* data, std::size_t size) {
  stderr_pending_.append(data, size);
  std::size_t start = 0;
  for (;;) {
    const std::size_t newline = stderr_pending_.find('\n', start);
    if (newline == std::string::npos) break;
    const std::string_view line(stderr_pending_.data() + start, newline - start);
    last_stderr_ = printable(line);
    if (relay_ != nullptr) relay_->line(what_, line);
    start = newline + 1;
  }
  stderr_pending_.erase(0, start);
  if (stderr_pending_.size() > 4 * kMaxStderrLine) {  // a very long line: pass on its head
    last_stderr_ = printable(stderr_pending_);
    if (relay_ != nullptr) relay_->line(what_, stderr_pending_);
    stderr_pending_.clear();
  }
}

// Moves bytes until `input` is written (input != null), or until stdout and
// stderr end (input == null); a time limit closes everything.
void Child::pump(Feed* input, const OnOutput& on_output, const std::function<bool()>* until) {
  if (read_buffer_.empty()) read_buffer_.resize(kPipeBytes + kViewPadding);
  char* const buffer = read_buffer_.data();
  for (;;) {
    const bool writing = input != nullptr && !input->empty() && in_ >= 0;
    if (input != nullptr && !writing) return;
    if (until != nullptr && ((*until)() || out_ < 0)) return;
    if (input == nullptr && out_ < 0 && err_ < 0) return;
    pollfd fds[3];
    int n = 0;
    int in_at = -1, out_at = -1, err_at = -1;
    if (writing) in_at = n, fds[n++] = {in_, POLLOUT, 0};
    if (out_ >= 0) out_at = n, fds[n++] = {out_, POLLIN, 0};
    if (err_ >= 0) err_at = n, fds[n++] = {err_, POLLIN, 0};
    int timeout_ms = -1;
    if (limits_.idle_seconds > 0 || limits_.total_seconds > 0) timeout_ms = 100;
    if (tick_) timeout_ms = static_cast<int>(kTickInterval.count());
    if (until != nullptr && (timeout_ms < 0 || timeout_ms > kStallRecheck.count())) {
      timeout_ms = static_cast<int>(kStallRecheck.count());
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
    const auto now = std::chrono::steady_clock::now();
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw RunError(errno_message("poll on the pipes of " + what_, "", errno));
    }
    if (tick_ && now - last_tick_ >= kTickInterval) {
      last_tick_ = now;
      tick_();
    }
    if (out_at >= 0 && fds[out_at].revents != 0) {
      const ssize_t got = ::read(out_, buffer, kPipeBytes);
      if (got > 0) {
        last_activity_ = now;
        on_output(std::string_view(buffer, static_cast<std::size_t>(got)));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(out_);
      }
    }
    if (err_at >= 0 && fds[err_at].revents != 0 && err_ >= 0) {
      const ssize_t got = ::read(err_, buffer, kChunk);
      if (got > 0) {
        last_activity_ = now;
        relay_stderr(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (!stderr_pending_.empty()) relay_stderr("\n", 1);
        close_fd(err_);
      }
    }
    if (in_at >= 0 && fds[in_at].revents != 0 && in_ >= 0) {
      if (input->fd >= 0) {
        if (write_some_of_file(*input)) last_activity_ = now;
      } else {
        const ssize_t put =
            ::write(in_, input->bytes.data(), std::min(input->bytes.size(), kPipeBytes));
        if (put > 0) {
          last_activity_ = now;
          input->bytes.remove_prefix(static_cast<std::size_t>(put));
        } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
          close_fd(in_);  // EPIPE: the child stopped reading
        }
      }
    }
    check_time(now);
    if (until != nullptr && check_stall(now)) return;
  }
}

bool Child::check_stall(std::chrono::steady_clock::time_point now) {
  if (out_ < 0 || in_ < 0 || now - last_activity_ < kStallAfter || now < next_stall_check_) {
    return false;
  }
  if (last_activity_ > stall_checked_at_) stall_interval_ = kStallRecheck;  // silent anew
  stall_checked_at_ = now;
  if (!waits_for_input()) {
    // A long silence that is not a stall (an item that computes for hours):
    // the looks grow rarer, up to one every kStallRecheckMax.
    stall_seen_ = {};
    next_stall_check_ = now + stall_interval_;
    stall_interval_ =
        std::min<std::chrono::steady_clock::duration>(2 * stall_interval_, kStallRecheckMax);
    return false;
  }
  next_stall_check_ = now + kStallRecheck;
  if (stall_seen_ <= last_activity_) {  // first seen since it last read or wrote
    stall_seen_ = now;
    return false;
  }
  stalled_ = now - stall_seen_ >= kStallRecheck;
  return stalled_;
}

bool Child::waits_for_input() const {
  int unread = 0;
  if (::ioctl(in_, FIONREAD, &unread) != 0 || unread != 0) return false;  // not all read yet
  if (::ioctl(out_, FIONREAD, &unread) != 0 || unread != 0) return false;  // answers on the way
  struct stat pipe {};
  if (::fstat(in_, &pipe) != 0) return false;
  const std::string own_pipe = fmt::format("pipe:[{}]", static_cast<std::uint64_t>(pipe.st_ino));
  if (!guarded_ && sleep_of(pid_, std::to_string(pid_), own_pipe) != Sleep::kReadsOwnPipe) {
    return false;  // the usual answer, without a look at every process
  }
  return group_waits_for_input(pid_, guarded_ ? pid_ : 0, own_pipe);
}

bool Child::write(std::string_view input, const OnOutput& on_output) {
  if (in_ < 0) return false;
  Feed feed;
  feed.bytes = input;
  pump(&feed, on_output);
  return feed.empty() && in_ >= 0;
}

bool Child::write_file(const std::string& path, std::uint64_t begin, std::uint64_t end,
                       const OnOutput& on_output) {
  if (in_ < 0) return false;
  Feed feed;
  feed.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  feed.offset = begin;
  feed.end = end;
  feed.path = &path;
  // GRIDMR_DEBUG_NO_SPLICE=1: as on a file system without splice (the tests).
  static const bool no_splice = [] {
    const char* value = std::getenv("GRIDMR_DEBUG_NO_SPLICE");
    return value != nullptr && std::string_view(value) == "1";
  }();
  feed.no_splice = no_splice;
  if (feed.fd < 0) throw RunError(errno_message("cannot open", path, errno));
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_file{feed.fd};
  pump(&feed, on_output);
  return feed.empty() && in_ >= 0;
}

// Moves what the pipe takes now: splice() hands the page cache's pages to the
// pipe (no copy through gridmr: 256 MiB cost 0.1 s of CPU less to feed than
// read() and write()); a file system without splice gets read() and write().
bool Child::write_some_of_file(Feed& input) {
  if (input.copied.empty()) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(input.end - input.offset, kPipeBytes));
    ssize_t moved = -1;
    if (!input.no_splice) {
      auto offset = static_cast<loff_t>(input.offset);
      moved = ::splice(input.fd, &offset, in_, nullptr, want, SPLICE_F_NONBLOCK);
      if (moved > 0) {
        input.offset += static_cast<std::uint64_t>(moved);
        return true;
      }
      if (moved < 0 && (errno == EAGAIN || errno == EINTR)) return false;
      if (moved < 0 && errno != EINVAL && errno != ENOSYS) {
        close_fd(in_);  // EPIPE: the child stopped reading
        return false;
      }
      input.no_splice = moved < 0;
    }
    if (input.no_splice) {  // read the next piece, then write it
      input.copied.resize(std::min(want, kChunk));
      moved = ::pread(input.fd, input.copied.data(), input.copied.size(),
                      static_cast<off_t>(input.offset));
      if (moved < 0) {
        input.copied.clear();
        if (errno == EINTR) return false;
        throw RunError(errno_message("cannot read", *input.path, errno));
      }
      input.copied.resize(static_cast<std::size_t>(moved));
      input.offset += static_cast<std::uint64_t>(moved);
    }
    if (moved == 0) {
      struct stat st {};
      const std::string now =
          ::fstat(input.fd, &st) == 0
              ? fmt::format("it has {} bytes now", static_cast<std::uint64_t>(st.st_size))
              : std::string("it is shorter now");
      throw RunError(fmt::format("{} changed during the run: {}, but the job planned to read byte {}",
                                 quote_path(*input.path), now, input.offset));
    }
  }
  const ssize_t put = ::write(in_, input.copied.data(), input.copied.size());
  if (put > 0) {
    input.copied.erase(0, static_cast<std::size_t>(put));
    return true;
  }
  if (put < 0 && errno != EAGAIN && errno != EINTR) close_fd(in_);  // EPIPE
  return false;
}

void Child::limit_from_now(double total_seconds) {
  limits_ = Limits{0, total_seconds};
  started_ = last_activity_ = std::chrono::steady_clock::now();
}

bool Child::ask(std::string_view request, const OnOutput& on_output,
                const std::function<bool()>& answered) {
  started_ = last_activity_ = std::chrono::steady_clock::now();
  last_stderr_.clear();
  if (in_ < 0) return false;
  Feed feed;
  feed.bytes = request;
  pump(&feed, on_output);
  if (!feed.empty()) return answered();  // it stopped reading
  pump(nullptr, on_output, &answered);
  return answered();
}

ChildStatus Child::finish(const OnOutput& on_output) {
  if (reaped_) return status_;
  close_fd(in_);
  pump(nullptr, on_output);
  // Its output has ended; wait for its exit (within the time limits).
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, timed_out_ ? 0 : WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) break;
    if (r == 0) {
      check_time(std::chrono::steady_clock::now());
      if (!timed_out_) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  forget_child_group(pid_);
  reaped_ = true;
  if (WIFSIGNALED(status)) {
    status_.signal = WTERMSIG(status);
    status_.exit_code = 128 + status_.signal;
  } else {
    status_.exit_code = WEXITSTATUS(status);
  }
  status_.timed_out = timed_out_;
  return status_;
}

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool is_assignment(std::string_view word) {
  const std::size_t eq = word.find('=');
  if (eq == 0 || eq == std::string_view::npos) return false;
  return std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return c == '_' || std::isalnum(static_cast<unsigned char>(c));
  });
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

void check_command(const std::string& command, const std::string& option) {
  static const std::set<std::string, std::less<>> kShellWords = {
      "!",       "{",    "(",    ":",      ".",     "[",     "alias", "case",   "cd",
      "command", "echo", "eval", "export", "false", "for",   "if",    "printf", "read",
      "set",     "test", "true", "ulimit", "umask", "until", "while"};
  std::vector<std::string> words;
  std::string word;
  for (char c : command) {
    if (c == ' ' || c == '\t' || c == '\n') {
      if (!word.empty()) words.push_back(std::move(word)), word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(word);
  std::size_t i = 0;
  while (i < words.size() && (is_assignment(words[i]) || words[i] == "exec")) ++i;
  if (i == words.size()) throw UsageError(option + ": the command is empty");
  const std::string& program = words[i];
  if (kShellWords.count(program) != 0) return;
  if (program.find_first_of("'\"$`\\;&|<>(){}*?") != std::string::npos) return;  // shell syntax
  if (program.find('/') != std::string::npos) {
    if (!is_executable_file(program)) {
      throw UsageError(fmt::format("{}: {} is not an executable file (on {})", option,
                                   quote_path(program), host_name()));
    }
    return;
  }
  if (found_on_path(program)) return;
  throw UsageError(fmt::format("{}: command {} not found on PATH (on {})", option,
                               quote_path(program), host_name()));
}

bool found_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate.push_back('/');
    candidate.append(program);
    if (is_executable_file(candidate)) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted.push_back(c);
    }
  }
  return quoted + "'";
}

}  // namespace gridmr::stream
