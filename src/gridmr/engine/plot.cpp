// `plot`: a per-rank timeline of a run, drawn by gnuplot.
#include "gridmr/engine/plot.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/result_file.hpp"
#include "gridmr/stream/child.hpp"
#include "gridmr/write/result_reader.hpp"

namespace gridmr {

namespace {

struct Rank {
  std::string label;
  double units = 0;
  double phase[4][2] = {};  // map, shuffle, reduce, write: [start, end) in seconds
};

constexpr const char* kPhases[] = {"map", "shuffle", "reduce", "write"};
constexpr const char* kColours[] = {"#4477aa", "#ee6677", "#228833", "#ccbb44"};

// A string for gnuplot's double quotes (noenhanced text: only " and \ matter).
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out + "\"";
}

std::vector<Rank> read_ranks(const ResultFile& file, bool& laid_end_to_end) {
  const ResultReader& r = file.reader();
  const std::string table = "stats/ranks";
  if (!file.has("/" + table)) {
    throw UsageError(quote_path(file.path()) + " has no /stats/ranks to plot");
  }
  const auto ranks = r.read_field_doubles(table, "rank");
  const auto hosts = r.read_field_strings(table, "host");
  const auto units = r.read_field_doubles(table, "units");
  const char* durations[] = {"map_seconds", "shuffle_seconds", "reduce_seconds", "write_seconds"};
  const char* starts[] = {"map_start_seconds", "shuffle_start_seconds", "reduce_start_seconds",
                          "write_start_seconds"};
  std::vector<double> length[4], start[4];
  for (int p = 0; p < 4; ++p) {
    length[p] = r.read_field_doubles(table, durations[p]);
    start[p] = r.read_field_doubles(table, starts[p]);
  }
  laid_end_to_end = start[0].empty();
  std::vector<Rank> rows(ranks.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Rank& row = rows[i];
    row.label = fmt::format("rank {:.0f}{}", ranks[i],
                            i < hosts.size() ? " (" + hosts[i] + ")" : std::string());
    row.units = i < units.size() ? units[i] : 0;
    double end = 0;
    for (int p = 0; p < 4; ++p) {
      const double length_p = i < length[p].size() ? length[p][i] : 0;
      // With start times: map and write last their own time; the shuffle and
      // the reduce last until the next phase starts (the shuffle folds into
      // the reduce table as it goes). Without (older files): end to end.
      const double begin = laid_end_to_end ? end : start[p][i];
      double finish = begin + length_p;
      if (!laid_end_to_end && (p == 1 || p == 2)) finish = std::max(begin, start[p + 1][i]);
      row.phase[p][0] = begin;
      row.phase[p][1] = finish;
      end = finish;
    }
  }
  return rows;
}

std::string script(const ResultFile& file, const std::vector<Rank>& rows, bool laid_end_to_end,
                   const std::string& output) {
  const std::size_t n = rows.size();
  std::string s;
  const int height = static_cast<int>(std::clamp<std::size_t>(160 + 28 * n, 320, 4000));
  s += fmt::format("set terminal pngcairo noenhanced size 1200,{} font 'sans,10'\n", height);
  std::string out_quoted = "'";
  for (char c : output) out_quoted += c == '\'' ? std::string("''") : std::string(1, c);
  s += "set output " + out_quoted + "'\n";
  const std::string title = fmt::format(
      "{}: {} rank{} x {} thread{}, {:.2f} s{}", file.string_attribute("/", "job"), n,
      n == 1 ? "" : "s", file.uint_attribute("/", "threads_per_rank"),
      file.uint_attribute("/", "threads_per_rank") == 1 ? "" : "s",
      file.double_attribute("/", "elapsed_seconds"),
      laid_end_to_end ? " (no start times in this file: phases drawn end to end)" : "");
  s += "set multiplot title " + quoted(title) + "\n";
  s += "set style fill solid 0.9 border rgb '#333333'\n";
  s += fmt::format("set yrange [{}:-0.6]\n", static_cast<double>(n) - 0.4);
  s += "set grid xtics\nset xrange [0:*]\nset offsets 0, graph 0.02, 0, 0\n";
  // The timeline, left.
  s += "set origin 0,0\nset size 0.76,0.95\nset lmargin 24\n";
  s += "set xlabel 'seconds since the start'\nset key outside top center horizontal\n";
  s += "set ytics (";
  for (std::size_t i = 0; i < n; ++i) {
    s += fmt::format("{}{} {}", i == 0 ? "" : ", ", quoted(rows[i].label), i);
  }
  s += ")\n";
  for (int p = 0; p < 4; ++p) {
    s += fmt::format("${} << EOD\n", kPhases[p]);
    for (std::size_t i = 0; i < n; ++i) {
      s += fmt::format("{:.6f} {:.6f} {}\n", rows[i].phase[p][0], rows[i].phase[p][1], i);
    }
    s += "EOD\n";
  }
  s += "plot ";
  for (int p = 0; p < 4; ++p) {
    s += fmt::format(
        "{}${} using (($1+$2)/2):3:1:2:($3-0.35):($3+0.35) with boxxyerror lc rgb '{}' title '{}'",
        p == 0 ? "" : ", ", kPhases[p], kColours[p], kPhases[p]);
  }
  s += "\n";
  // Units per rank, right, on the same rows.
  s += "set origin 0.76,0\nset size 0.24,0.95\nset lmargin 2\nunset ytics\nunset key\n";
  s += "set xlabel 'units mapped'\n$units << EOD\n";
  for (std::size_t i = 0; i < n; ++i) s += fmt::format("{:.0f} {}\n", rows[i].units, i);
  s += "EOD\n";
  s += "plot $units using ($1/2):2:(0):1:($2-0.35):($2+0.35) with boxxyerror lc rgb '#66ccee'\n";
  s += "unset multiplot\n";
  return s;
}

// gnuplot reads the script on stdin; its own messages go to our stderr.
void run_gnuplot(const std::string& text) {
  int in[2];
  if (::pipe(in) != 0) throw RunError(fmt::format("cannot start gnuplot: {}", std::strerror(errno)));
  const pid_t child = ::fork();
  if (child < 0) throw RunError(fmt::format("cannot start gnuplot: {}", std::strerror(errno)));
  if (child == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::close(in[0]);
    ::close(in[1]);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDOUT_FILENO);
    ::execlp("gnuplot", "gnuplot", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::signal(SIGPIPE, SIG_IGN);  // gnuplot ending early is reported by its status, not by SIGPIPE
  // gnuplot ending early fails the write: its status says why.
  [[maybe_unused]] const bool written = write_fully(in[1], text.data(), text.size());
  ::close(in[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw RunError(WIFEXITED(status)
                       ? fmt::format("gnuplot failed (exit {}); its messages are above",
                                     WEXITSTATUS(status))
                       : fmt::format("gnuplot died on signal {}", WTERMSIG(status)));
  }
}

}  // namespace

void plot_result(const std::string& path, const std::string& png, bool force) {
  const ResultFile file(path);
  struct stat st {};
  if (!force && ::lstat(png.c_str(), &st) == 0) {
    throw UsageError(quote_path(png) + " exists; use --force to replace it");
  }
  const std::string folder = png.find('/') == std::string::npos ? "." : png.substr(0, png.rfind('/') + 1);
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw UsageError(fmt::format("the folder of {} does not exist", quote_path(png)));
  }
  if (!stream::found_on_path("gnuplot")) {
    throw RunError("gridmr plot needs gnuplot on PATH (Debian: apt install gnuplot-nox)");
  }
  bool laid_end_to_end = false;
  const std::vector<Rank> rows = read_ranks(file, laid_end_to_end);

  std::string partial = png + ".partial-XXXXXX";
  const int fd = ::mkstemp(partial.data());
  if (fd < 0) {
    throw RunError(fmt::format("cannot create {}: {}", quote_path(partial), std::strerror(errno)));
  }
  ::close(fd);
  try {
    run_gnuplot(script(file, rows, laid_end_to_end, partial));
    if (::stat(partial.c_str(), &st) != 0 || st.st_size == 0) {
      throw RunError("gnuplot wrote no picture");
    }
    ::chmod(partial.c_str(), 0644);
    // Publish: replace only with --force; else a hard link, which never clobbers.
    if (force) {
      if (::rename(partial.c_str(), png.c_str()) != 0) {
        throw RunError(fmt::format("cannot write {}: {}", quote_path(png), std::strerror(errno)));
      }
    } else {
      if (::link(partial.c_str(), png.c_str()) != 0) {
        throw RunError(errno == EEXIST
                           ? quote_path(png) + " appeared during the plot; nothing replaced"
                           : fmt::format("cannot write {}: {}", quote_path(png),
                                         std::strerror(errno)));
      }
      ::unlink(partial.c_str());
    }
  } catch (...) {
    ::unlink(partial.c_str());
    throw;
  }
}

}  // namespace gridmr
