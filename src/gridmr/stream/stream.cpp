// `gridmr stream`: each map thread runs the user's mapper as one long-lived
// child, feeds it the lines of its units and reads key<TAB>value lines back.
// Built-in reducers combine in the engine's key tables (before and after the
// shuffle); `collect` and an external reducer keep every value.
#include <fmt/format.h>
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/detail/runtime.hpp"
#include "gridmr/detail/runtime_for.hpp"
#include "gridmr/detail/text_reader.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/output.hpp"
#include "gridmr/simd/kernels.hpp"
#include "gridmr/stream/child.hpp"
#include "gridmr/spill/spill.hpp"
#include "gridmr/stream/exact_sum.hpp"
#include "gridmr/stream/reducer_output.hpp"
#include "gridmr/streaming.hpp"

namespace gridmr {

namespace stream {

namespace {

constexpr std::size_t kFeedBatch = 1 << 16;
// Mapper starts on rank 0 past which a stream job suggests --combine-files.
constexpr std::uint64_t kManyMapperStarts = 100;

struct StreamConfig {
  std::string mapper;
  std::string reducer = "sum";
  std::string values = "int";
  std::string combiner;  // with an external reducer: a command run on each map thread's output
  double timeout = 0;    // seconds a mapper or reducer may go without reading or writing
  bool combine_files = false;  // a mapper lives across input files (its environment names none)
  bool include_path = false;   // the mapper reads PATH<TAB>line
};

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

std::string shown(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 200)) {
    if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += c == '"'    ? "\\\""
             : c == '\\' ? "\\\\"
             : c == '\t' ? "\\t"
                         : fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > 200) out += "...";
  return "\"" + out + "\"";
}

// A value the reducer cannot take; the caller adds where it came from.
class BadValue : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string_view trim_value(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  if (text.size() <= 18 && !text.empty()) {  // the common case: a few digits, fits at once
    std::int64_t value = 0;
    std::size_t i = text.front() == '-' || text.front() == '+' ? 1 : 0;
    bool digits = i < text.size();
    for (std::size_t k = i; k < text.size() && digits; ++k) {
      const unsigned d = static_cast<unsigned char>(text[k]) - '0';
      digits = d < 10;
      value = value * 10 + d;
    }
    if (digits) return text.front() == '-' ? -value : value;
  }
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// A value of 1 to 18 plain digits after an optional minus sign (what most
// mappers print), or nothing: then the value takes the general path (plus
// signs, spaces, errors).
inline bool plain_digits(const char* text, std::size_t size, std::int64_t& value) {
  const bool negative = size > 0 && text[0] == '-';
  const std::size_t first = negative ? 1 : 0;
  if (size - first - 1 >= 18) return false;  // no digits wraps around
  std::int64_t v = 0;
  for (std::size_t i = first; i < size; ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    if (d >= 10) return false;
    v = v * 10 + d;
  }
  value = negative ? -v : v;
  return true;
}

std::int64_t integer_value(std::string_view raw) {
  if (raw.size() == 1 && static_cast<unsigned>(raw[0] - '0') < 10) return raw[0] - '0';
  const std::string_view text = trim_value(raw);
  if (const auto v = parse_integer(text)) return *v;
  if (parse_double(text)) {
    throw BadValue(
        fmt::format("value {} is not a 64-bit integer (use --values float for numbers "
                    "with a decimal point or an exponent)",
                    shown(raw)));
  }
  throw BadValue(fmt::format("value {} is not a number", shown(raw)));
}

// A float job's value: an integer stays exact (int64), anything else is a finite double.
struct Number {
  bool is_integer;
  std::int64_t integer;
  double real;
};
Number float_value(std::string_view raw) {
  const std::string_view text = trim_value(raw);
  if (const auto v = parse_integer(text)) return {true, *v, static_cast<double>(*v)};
  const auto d = parse_double(text);
  if (!d) throw BadValue(fmt::format("value {} is not a number", shown(raw)));
  if (!std::isfinite(*d))
    throw BadValue(fmt::format("value {} is not a finite number", shown(raw)));
  return {false, 0, *d};
}

// A value of at most 20 characters: digits with an optional minus sign and
// decimal point ("-12.50", Python's repr of most floats), or nothing: then the
// value takes the general path. Its magnitude is 0 or from 1e-18 to below
// 1e19, which keeps a float in the integers' band (BandSum). An integer of up
// to 18 digits stays exact; up to 15 digits in all, the digits and the power
// of ten are exact doubles, so one division rounds as from_chars does
// (Clinger's fast path); longer decimals go through from_chars.
inline bool plain_decimal(const char* text, std::size_t size, Number& number) {
  static constexpr double kPowers[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
                                       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  if (size == 0 || size > 20) return false;
  const bool negative = text[0] == '-';
  std::uint64_t m = 0;  // the digits (wrapped past 19 of them: then unused)
  int digits = 0, point = -1;  // point: the digits before the decimal point
  for (std::size_t i = negative ? 1 : 0; i < size; ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - unsigned{'0'};
    if (d < 10) {
      m = m * 10 + d;
      ++digits;
    } else if (text[i] == '.' && point < 0 && digits > 0) {
      point = digits;
    } else {
      return false;
    }
  }
  if (digits == 0 || point == digits) return false;
  if (point < 0) {
    if (digits > 18) return false;
    const auto whole = static_cast<std::int64_t>(m);
    number = {true, negative ? -whole : whole, 0};
  } else if (digits <= 15) {
    const double real = static_cast<double>(m) / kPowers[digits - point];
    number = {false, 0, negative ? -real : real};
  } else {
    double real = 0;
    std::from_chars(text, text + size, real);  // a valid decimal, within range
    number = {false, 0, real};
  }
  return true;
}

// Writes f(v) for every v of `values` as the dataset `path`: in memory at
// once, or in pieces when the values are spilled.
template <class Out, class V, class F>
class Converted final : public ColumnReader<Out> {
 public:
  Converted(std::unique_ptr<ColumnReader<V>> in, F f) : in_(std::move(in)), f_(f) {}
  std::size_t read(Out* out, std::size_t n) override {
    const std::size_t m = in_->read(buffer_, std::min<std::size_t>(n, kBatch));
    for (std::size_t i = 0; i < m; ++i) out[i] = f_(buffer_[i]);
    return m;
  }

 private:
  static constexpr std::size_t kBatch = 256;
  std::unique_ptr<ColumnReader<V>> in_;
  F f_;
  V buffer_[kBatch];
};

template <class Out, class V, class F>
void write_converted(Output& out, const std::string& path, const Column<V>& values, F f) {
  if (values.in_memory()) {
    std::vector<Out> converted(values.size());
    for (std::size_t i = 0; i < converted.size(); ++i) converted[i] = f(values[i]);
    out.write<Out>(path, converted);
    return;
  }
  out.write(path, Column<Out>(values.size(), [&values, f] {
              return std::make_unique<Converted<Out, V, F>>(values.reader(), f);
            }));
}

// --- Built-in reducers on numbers: Value, parse, combine, check, write. ---

struct Int128 {
  std::uint64_t low = 0;
  std::int64_t high = 0;
  static Int128 of(__int128 v) {
    return {static_cast<std::uint64_t>(v), static_cast<std::int64_t>(v >> 64)};
  }
  __int128 get() const {
    return static_cast<__int128>(
        (static_cast<unsigned __int128>(static_cast<std::uint64_t>(high)) << 64) | low);
  }
};

bool less_total(double a, double b) {  // -0.0 before +0.0, so min and max ignore the order
  if (a == b) return std::signbit(a) && !std::signbit(b);
  return a < b;
}

struct CountValues {
  using Value = std::uint64_t;
  static constexpr const char* kName = "count";
  static Value parse(std::string_view) { return 1; }
  static bool parse_plain(const char*, std::size_t, Value& v) {
    v = 1;
    return true;
  }
  static Value combine(Value a, Value b) { return a + b; }
  static void check(std::string_view, const Value&) {}
  static void write(Output& out, const Column<Value>& values) {
    out.write("stream/values", values);
  }
};

struct SumInt {
  using Value = Int128;
  static constexpr const char* kName = "sum";
  static Value parse(std::string_view text) {
    // The common case inline: one digit (`word<TAB>1`).
    if (text.size() == 1 && static_cast<unsigned>(text[0] - '0') < 10) {
      return Int128::of(text[0] - '0');
    }
    return Int128::of(integer_value(text));
  }
  static bool parse_plain(const char* text, std::size_t size, Value& v) {
    std::int64_t i;
    if (!plain_digits(text, size, i)) return false;
    v = Int128::of(i);
    return true;
  }
  static Value combine(Value a, Value b) {  // word by word: gcc's __int128 goes through memory
    const std::uint64_t low = a.low + b.low;
    return {low, static_cast<std::int64_t>(static_cast<std::uint64_t>(a.high) +
                                           static_cast<std::uint64_t>(b.high) + (low < a.low))};
  }
  static void check(std::string_view key, const Value& v) {
    if (v.get() > INT64_MAX || v.get() < INT64_MIN) {
      throw RunError(
          fmt::format("the sum for key {} does not fit in a 64-bit integer (use "
                      "--values float for a rounded sum)",
                      shown(key)));
    }
  }
  static void write(Output& out, const Column<Value>& values) {
    write_converted<std::int64_t>(out, "stream/values", values, [](const Value& v) {
      return static_cast<std::int64_t>(v.get());
    });
  }
};

// Float sums and means are exact: a table holds, per key and band of
// exponents, a BandSum (the key followed by the band's byte: KeyLayout
// suffix 1), and the write adds a key's bands into an ExactSum, rounded once.
struct SumFloat {
  using Value = BandSum;
  static constexpr const char* kName = "sum";
  static constexpr bool kCounts = false;
  static Value parse(std::string_view text, int& band) { return of(float_value(text), band); }
  // A plain value (plain_decimal), which is always in the integers' band.
  static bool parse_plain(const char* text, std::size_t size, Value& v) {
    Number n;
    if (!plain_decimal(text, size, n)) return false;
    int band;
    v = of(n, band);
    assert(band == BandSum::kIntegerBand);
    return true;
  }
  static Value of(const Number& n, int& band) {
    return n.is_integer ? BandSum::of(n.integer, band) : BandSum::of(n.real, band);
  }
  static Value combine(Value a, const Value& b) {
    a.add(b);
    return a;
  }
  static const BandSum& band_sum(const Value& v) { return v; }
  static std::uint64_t count(const Value&) { return 0; }
};

template <bool kMin>
struct ExtremeInt {
  using Value = std::int64_t;
  static constexpr const char* kName = kMin ? "min" : "max";
  static Value parse(std::string_view text) { return integer_value(text); }
  static bool parse_plain(const char* text, std::size_t size, Value& v) {
    return plain_digits(text, size, v);
  }
  static Value combine(Value a, Value b) { return kMin ? std::min(a, b) : std::max(a, b); }
  static void check(std::string_view, const Value&) {}
  static void write(Output& out, const Column<Value>& values) {
    out.write("stream/values", values);
  }
};

template <bool kMin>
struct ExtremeFloat {
  using Value = double;
  static constexpr const char* kName = kMin ? "min" : "max";
  static Value parse(std::string_view text) { return float_value(text).real; }
  static bool parse_plain(const char* text, std::size_t size, Value& v) {
    Number n;
    if (!plain_decimal(text, size, n)) return false;
    v = n.is_integer ? static_cast<double>(n.integer) : n.real;  // as float_value() gives it
    return true;
  }
  static Value combine(Value a, Value b) {
    return kMin ? (less_total(b, a) ? b : a) : (less_total(a, b) ? b : a);
  }
  static void check(std::string_view, const Value&) {}
  static void write(Output& out, const Column<Value>& values) {
    out.write("stream/values", values);
  }
};

struct MeanInt {
  struct Value {
    Int128 sum;
    std::uint64_t count = 0;
  };
  static constexpr const char* kName = "mean";
  static Value parse(std::string_view text) { return {Int128::of(integer_value(text)), 1}; }
  static bool parse_plain(const char* text, std::size_t size, Value& v) {
    std::int64_t i;
    if (!plain_digits(text, size, i)) return false;
    v = {Int128::of(i), 1};
    return true;
  }
  static Value combine(Value a, Value b) { return {SumInt::combine(a.sum, b.sum), a.count + b.count}; }
  static void check(std::string_view, const Value&) {}
  static void write(Output& out, const Column<Value>& values) {
    write_converted<double>(out, "stream/values", values, [](const Value& v) {
      // The exact sum rounded once, then divided: the same bits on any grouping.
      ExactSum sum;
      const __int128 s = v.sum.get();
      const __int128 high = s / (static_cast<__int128>(1) << 62);
      sum.add(static_cast<std::int64_t>(s - high * (static_cast<__int128>(1) << 62)));
      sum.add(std::ldexp(static_cast<double>(static_cast<std::int64_t>(high)), 62));
      return sum.value() / static_cast<double>(v.count);
    });
    write_converted<std::uint64_t>(out, "stream/counts", values,
                                   [](const Value& v) { return v.count; });
  }
};

struct MeanFloat {
  struct Value {
    BandSum sum;
    std::uint64_t count = 0;
  };
  static constexpr const char* kName = "mean";
  static constexpr bool kCounts = true;
  static Value parse(std::string_view text, int& band) { return {SumFloat::parse(text, band), 1}; }
  static bool parse_plain(const char* text, std::size_t size, Value& v) {
    v.count = 1;
    return SumFloat::parse_plain(text, size, v.sum);
  }
  static Value combine(Value a, const Value& b) {
    a.sum.add(b.sum);
    a.count += b.count;
    return a;
  }
  static const BandSum& band_sum(const Value& v) { return v.sum; }
  static std::uint64_t count(const Value& v) { return v.count; }
};

// --- The map side: one mapper child per thread. ---

// One map thread's mapper. It lives across units, and starts anew when the
// thread's next unit is from another file (its environment names the file),
// unless --combine-files. Each key<TAB>value line it prints goes to
// record(key, value).
template <class Record>
class MapperSession {
 public:
  // `tick`, if any, is called every 20 ms or so while a unit keeps the mapper busy.
  MapperSession(const StreamConfig& config, const Plan& plan, int rank, int thread,
                StderrRelay& relay, std::function<void()> tick)
      : config_(config),
        plan_(plan),
        rank_(rank),
        thread_(thread),
        relay_(relay),
        tick_(std::move(tick)) {}

  void map_unit(const WorkUnit& unit, const Record& record) {
    if (child_ && unit.source != unit_.source && !config_.combine_files) finish(record);
    unit_ = unit;
    if (!child_) start(record);
    const std::string& path = plan_.sources[unit.source];
    if (config_.include_path) {
      feed_with_path(path, unit, record);
      return;
    }
    if (TextReader::compressed(path)) {
      feed_decompressed(path, unit, record);
      return;
    }
    // The unit's lines go straight from the file to the mapper's stdin.
    const TextReader::LineRange lines = reader_.line_range(path, unit);
    if (lines.begin < lines.end &&
        !child_->write_file(path, lines.begin, lines.end, output_handler(record))) {
      stopped_reading(record);
    }
    if (lines.newline_missing && !child_->write("\n", output_handler(record))) {
      stopped_reading(record);
    }
  }

  std::uint64_t starts() const { return starts_; }

  // A compressed file's text, as it is decompressed, ending with a newline.
  void feed_decompressed(const std::string& path, const WorkUnit& unit, const Record& record) {
    char last = '\n';
    reader_.read_through(path, unit, [&](std::string_view bytes) {
      if (!child_->write(bytes, output_handler(record))) stopped_reading(record);
      last = bytes.back();
    });
    if (last != '\n' && !child_->write("\n", output_handler(record))) stopped_reading(record);
  }

  // --include-path: each line of the unit as PATH<TAB>line, written in batches.
  void feed_with_path(const std::string& path, const WorkUnit& unit, const Record& record) {
    std::string batch;
    const auto write_batch = [&] {
      if (!batch.empty() && !child_->write(batch, output_handler(record))) stopped_reading(record);
      batch.clear();
    };
    reader_.for_each_line(path, unit, [&](std::string_view line) {
      batch.append(path);
      batch.push_back('\t');
      batch.append(line);
      batch.push_back('\n');
      if (batch.size() >= kFeedBatch) write_batch();
    });
    write_batch();
  }

  // Ends the mapper: its last output, its exit status.
  void finish(const Record& record) {
    if (!child_) return;
    const ChildStatus status = child_->finish(output_handler(record));
    if (!partial_.empty()) {  // a last line without a newline
      std::string last;
      last.swap(partial_);
      take_line(last, record);
    }
    if (!status.ok()) fail(status.describe(config_.timeout), "");
    child_.reset();
  }

 private:
  void start(const Record&) {
    std::vector<std::string> environment{fmt::format("GRIDMR_RANK={}", rank_),
                                         fmt::format("GRIDMR_THREAD={}", thread_)};
    if (!config_.combine_files) {
      const std::string& path = plan_.sources[unit_.source];
      environment.insert(environment.end(),
                         {fmt::format("GRIDMR_UNIT={}-{}", unit_.begin, unit_.end),
                          "GRIDMR_INPUT=" + path,
                          fmt::format("GRIDMR_INPUT_INDEX={}", unit_.source),
                          "map_input_file=" + path});
    }
    ++starts_;
    child_ = std::make_unique<Child>(config_.mapper, environment, Limits{config_.timeout, 0},
                                     &relay_, "mapper");
    child_->while_waiting(tick_);
    partial_.clear();
  }

  // Splits the mapper's output into lines. The tabs and newlines of each 64 KiB
  // are listed first (a SIMD kernel), so a line costs a few reads of that
  // list, not a search of its own; its key reaches `record` as a PaddedView
  // (the bytes come with padding: see Child::write). A line cut by the end of
  // the bytes waits in partial_ and goes through take_line().
  Child::OnOutput output_handler(const Record& record) {
    return [this, &record](std::string_view bytes) {
      constexpr std::size_t kScan = 1 << 16;
      if (separators_.empty()) separators_.resize(kScan + 64);
      for (std::size_t at = 0; at < bytes.size(); at += kScan) {
        const std::size_t size = std::min(kScan, bytes.size() - at);
        take_lines(bytes.data() + at, size,
                   simd::list_tabs_and_newlines(bytes.data() + at, size, separators_.data()),
                   record);
      }
    };
  }

  // The lines of b[0, size), whose tabs and newlines are separators_[0, count).
  void take_lines(const char* b, std::size_t size, std::size_t count, const Record& record) {
    const std::uint32_t* sep = separators_.data();
    std::size_t i = 0, start = 0;
    if (!partial_.empty()) {  // the rest of a line begun in earlier bytes
      while (i < count && b[sep[i]] != '\n') ++i;
      if (i == count) {
        partial_.append(b, size);
        return;
      }
      partial_.append(b, sep[i]);
      take_line(partial_, record);
      partial_.clear();
      start = sep[i++] + 1;
    }
    while (i < count) {
      if constexpr (requires(std::size_t n) { record.run(b, sep, n, count, n); }) {
        record.run(b, sep, i, count, start);  // the plain lines from here on
        if (i == count) break;
      }
      std::size_t j = i;  // the newline (the value may hold more tabs)
      while (j < count && b[sep[j]] != '\n') ++j;
      if (j == count) break;  // the line goes on in the next bytes
      const std::string_view line(b + start, sep[j] - start);
      take_line<PaddedView>(line, j == i ? line.size() : sep[i] - start, record);
      start = sep[j] + 1;
      i = j + 1;
    }
    partial_.assign(b + start, size - start);
  }

  void take_line(std::string_view line, const Record& record) {
    take_line(line, std::min(line.find('\t'), line.size()), record);
  }
  // One line without its newline, whose first tab is line[tab] (none if tab is
  // line.size()). A \r before the newline goes. Key: how the key reaches
  // record(): a PaddedView where padding follows the line.
  template <class Key = std::string_view>
  void take_line(std::string_view line, std::size_t tab, const Record& record) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (tab >= line.size()) fail("printed a line without a tab", line);
    try {
      record(Key{std::string_view(line.data(), tab)},
             std::string_view(line.data() + tab + 1, line.size() - tab - 1));
    } catch (const BadValue& e) {
      fail(fmt::format("printed a bad line ({})", e.what()), line);
    }
  }

  // The mapper closed its stdin or ended before it read all of its input.
  [[noreturn]] void stopped_reading(const Record& record) {
    const ChildStatus status = child_->finish(output_handler(record));
    fail(status.ok() ? "stopped reading its input (exited with status 0)"
                     : status.describe(config_.timeout),
         "");
  }

  [[noreturn]] void fail(const std::string& what, std::string_view line) {
    std::string message = fmt::format(
        "mapper {} {} (rank {}, thread {}, unit {} bytes {}-{})", quote_path(config_.mapper), what,
        rank_, thread_, quote_path(plan_.sources[unit_.source]), unit_.begin, unit_.end);
    if (!line.empty() || what.find("line") != std::string::npos) {
      message += ": line " + shown(line);
    } else if (child_ && !child_->last_stderr_line().empty()) {
      message += "; its last stderr line: " + shown(child_->last_stderr_line());
    }
    child_.reset();  // kills it if it still runs
    throw RunError(message);
  }

  const StreamConfig& config_;
  const Plan& plan_;
  int rank_, thread_;
  StderrRelay& relay_;
  std::function<void()> tick_;
  std::unique_ptr<Child> child_;
  std::uint64_t starts_ = 0;  // mappers started
  WorkUnit unit_;
  TextReader reader_;
  std::vector<std::uint32_t> separators_;  // tabs and newlines of the mapper's output
  std::string partial_;
};

// Maps the units on `threads` threads, each with its mapper and its table.
// After a failure the rest of the units are drained unmapped (every rank still
// finishes the scheduling), then the first error is thrown.
template <class Table, class MakeRecord>
void map_through_mappers(const StreamConfig& config, const Plan& plan, int threads,
                         UnitSource& units, Spiller* spiller, std::vector<Table>& tables,
                         MakeRecord make_record) {
  tables = std::vector<Table>(threads);
  const int rank = world_rank();
  if (config.include_path) {  // every rank alike, before any mapper starts
    for (const std::string& path : plan.sources) {
      if (path.find_first_of("\t\n") != std::string::npos) {
        throw UsageError(fmt::format(
            "--include-path: the input path \"{}\" holds a tab or a newline", shown(path)));
      }
    }
  }
  StderrRelay relay(rank);
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> starts{0};
  auto note_error = [&] {
#pragma omp critical(gridmr_stream_error)
    if (!error) error = std::current_exception();
    failed = true;
  };
#pragma omp parallel num_threads(threads)
  {
    const int thread = omp_get_thread_num();
    const auto record = make_record(tables[thread]);
    // A unit may keep a slow mapper busy for minutes: meanwhile thread 0 keeps
    // the scheduler's messages going.
    std::function<void()> tick;
    if (thread == 0) tick = [&units] { units.while_busy(true); };
    MapperSession<decltype(record)> session(config, plan, rank, thread, relay, tick);
    while (const auto unit = units.next(thread == 0)) {
      if (!failed) {
        try {
          session.map_unit(*unit, record);
        } catch (...) {
          note_error();
        }
      }
      units.done(*unit);
      // A checkpoint must hold the whole output of the units it names: the
      // mapper may still hold some, so it ends first (the next unit starts a
      // new one), then the table is saved.
      if (!failed) {
        try {
          after_unit(units, tables[thread], spiller, [&] { session.finish(record); });
        } catch (...) {
          note_error();
        }
      }
    }
    if (!failed) {
      try {
        session.finish(record);
      } catch (...) {
        note_error();
      }
    }
    starts += session.starts();
  }
  relay.report_suppressed();
  if (error) std::rethrow_exception(error);
  // Many small files: a mapper per file costs its start-up each time (a
  // Python one about 20 ms), most of the job when the files are small.
  if (rank == 0 && !config.combine_files && starts >= kManyMapperStarts &&
      starts >= 16 * static_cast<std::uint64_t>(threads)) {
    std::fputs(fmt::format("gridmr: note: rank 0 started {} mappers, a new one for each input "
                           "file; unless the mapper needs GRIDMR_INPUT, --combine-files keeps "
                           "one per thread for the whole job\n",
                           starts.load())
                   .c_str(),
               stderr);
  }
}

void write_common_attributes(Output& out, const StreamConfig& config, std::uint64_t keys) {
  out.attribute("stream", "mapper", config.mapper);
  out.attribute("stream", "reducer", config.reducer);
  out.attribute("stream", "values", config.values);
  out.attribute("stream", "keys", keys);
}

// P::combine as the tables want it.
template <class P>
struct CombineBy {
  typename P::Value operator()(const typename P::Value& a, const typename P::Value& b) const {
    return P::combine(a, b);
  }
};

// What each record's run() does with its cursor over plain lines (PlainLines
// and the like, begun at line i, which starts at b[start]): feeds them to the
// table a run at a time, spilling between runs, until the cursor leaves a line
// to the general path or the bytes end; moves i and start past the lines taken.
template <class Lines, class Table, class Combine>
void take_plain_lines(Lines& lines, const SpillingTable<Table>& table, Combine combine,
                      std::size_t& i, std::size_t& start) {
  for (;;) {
    const std::size_t from = lines.i;
    table.table().upsert_run(lines, combine, table.room());
    table.check();
    if (lines.i == from) break;  // a line it leaves to the general path
  }
  i = lines.i;
  start = lines.start;
}

// The lines of a mapper's output that a numeric reducer takes on its fast
// path: "key<TAB>value\n" with a value of plain
// digits (P::parse_plain). A cursor for KeyTable::upsert_run over the tabs and
// newlines listed in sep; it stops at any other line, which the caller takes.
template <class P>
struct PlainLines {
  static constexpr bool kLongKeys = true;  // keys of any length (KeyTable::upsert_run)
  const char* b;
  const std::uint32_t* sep;  // sep[i]: the next line's tab, sep[i + 1] its newline
  std::size_t i, count;
  std::size_t start;  // where the next line starts
  bool next(const char*& key, std::size_t& n, typename P::Value& value) {
    if (i + 1 >= count) return false;
    const std::uint32_t tab = sep[i], newline = sep[i + 1];
    n = tab - start;
    if (b[tab] != '\t' || b[newline] != '\n') return false;
    if (!P::parse_plain(b + tab + 1, newline - tab - 1, value)) return false;
    key = b + start;
    start = newline + 1;
    i += 2;
    return true;
  }
  // For the cursor that runs ahead to prefetch slots: the key alone.
  bool next_key(const char*& key, std::size_t& n) {
    if (i + 1 >= count || b[sep[i]] != '\t') return false;
    key = b + start;
    n = sep[i] - start;
    start = sep[i + 1] + 1;
    i += 2;
    return true;
  }
};

// What a numeric stream's map does with each line of its mapper's output:
// record(key, value) for one line, run() for many.
template <class P>
struct NumericRecord {
  SpillingTable<KeyTable<typename P::Value>> table;

  template <class Key>  // PaddedView or std::string_view
  void operator()(Key key, std::string_view value) const {
    table.table().upsert(key, P::parse(value), CombineBy<P>{});
    table.check();
  }
  // Takes the plain lines from line i on (tab and newline sep[i], sep[i + 1]),
  // which starts at b[start]; moves i and start past them.
  void run(const char* b, const std::uint32_t* sep, std::size_t& i, std::size_t count,
           std::size_t& start) const
    requires requires(const char* t, typename P::Value v) { P::parse_plain(t, 0, v); }
  {
    PlainLines<P> lines{b, sep, i, count, start};
    take_plain_lines(lines, table, CombineBy<P>{}, i, start);
  }
};

// A stream job with a built-in reducer on numbers (policy P).
template <class P>
class NumericStream final : public TableRuntime<typename P::Value, CombineBy<P>> {
 public:
  using Value = typename P::Value;
  explicit NumericStream(StreamConfig config) : config_(std::move(config)) {}

  const char* name() const override { return "stream"; }
  Input input() const override { return Input::kText; }
  Plan plan() const override { return {}; }
  bool prefetch_units() const override { return false; }  // a mapper may be slow
  void check_on_every_rank() const override { check_command(config_.mapper, "--mapper"); }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_through_mappers(config_, plan, threads, units, this->spiller_, this->tables_,
                        [this](KeyTable<Value>& table) {
                          return NumericRecord<P>{SpillingTable(table, this->spiller_)};
                        });
  }

  void finish_reduce(std::span<const std::string_view> keys,
                     std::span<const std::byte* const> values, const std::byte*, int) override {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      Value v;
      std::memcpy(&v, values[i], sizeof v);
      P::check(keys[i], v);
    }
  }
  void finish_spilled(const PairSource& pairs, const std::byte*, int) override {
    const auto cursor = pairs.open();
    std::string_view key;
    const std::byte* value;
    while (cursor->next(key, value)) {
      Value v;
      std::memcpy(&v, value, sizeof v);
      P::check(key, v);
    }
  }

  void write(Output& out, std::span<const std::string_view> keys,
             std::span<const std::byte* const> values, std::uint64_t total_keys, std::uint64_t,
             const std::byte*, const Plan&) const override {
    std::vector<Value> ordered(values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
      std::memcpy(&ordered[i], values[i], sizeof(Value));
    out.write_keys("stream/keys", keys);
    P::write(out, std::span<const Value>(ordered));
    write_common_attributes(out, config_, total_keys);
  }

  bool writes_spilled() const override { return true; }
  void write_spilled(Output& out, const PairSource& pairs, std::uint64_t total_keys, std::uint64_t,
                     const std::byte*, const Plan&) const override {
    out.write_keys(
        "stream/keys",
        Column<std::string_view>(
            pairs.size(), [&pairs] { return std::make_unique<detail::SpilledKeys>(pairs); },
            pairs.key_bytes()));
    P::write(out, Column<Value>(pairs.size(), [&pairs] {
               return std::make_unique<detail::SpilledValues<Value>>(pairs);
             }));
    write_common_attributes(out, config_, total_keys);
  }

 private:
  StreamConfig config_;
};

// A banded stream's table keys: the job's key, then the band's byte.
constexpr KeyLayout kBandedLayout{.suffix = 1};

// The plain lines of a banded stream's mapper output (as PlainLines), each
// key followed by its band's byte, for keys of up to kLongest bytes. A plain
// value (P::parse_plain: at most 20 characters, so from 1e-18 to 1e19) is always
// in the integers' band, so the key does not wait for the value, and the
// cursor that runs ahead to prefetch slots takes the keys alone (next_key).
template <class P>
struct BandedPlainLines {
  static constexpr bool kLongKeys = true;
  static constexpr std::size_t kLongest = 63;
  const char* b;
  const std::uint32_t* sep;
  std::size_t i, count;
  std::size_t start;
  alignas(8) char key[kLongest + 1 + kViewPadding];

  bool next(const char*& k, std::size_t& n, typename P::Value& value) {
    if (i + 1 >= count) return false;
    const std::uint32_t tab = sep[i], newline = sep[i + 1];
    if (b[tab] != '\t' || b[newline] != '\n' || tab - start > kLongest ||
        !P::parse_plain(b + tab + 1, newline - tab - 1, value)) {
      return false;
    }
    take(k, n);
    return true;
  }
  bool next_key(const char*& k, std::size_t& n) {
    if (i + 1 >= count || b[sep[i]] != '\t' || sep[i] - start > kLongest) return false;
    take(k, n);
    return true;
  }

 private:
  // The line's key and band into key[], and on to the next line. A key of
  // less than 16 bytes goes as two 8-byte stores, which upsert_run's two
  // 8-byte loads take straight from the store buffer.
  void take(const char*& k, std::size_t& n) {
    const std::size_t size = sep[i] - start;
    if (size < 16) [[likely]] {
      std::uint64_t low = key_bytes::load64(b + start), high = key_bytes::load64(b + start + 8);
      const auto with_band = [](std::uint64_t word, std::size_t bytes) {
        const unsigned shift = 8 * static_cast<unsigned>(bytes);
        return (shift == 0 ? 0 : word & (~std::uint64_t{0} >> (64 - shift))) |
               std::uint64_t{BandSum::kIntegerBand} << shift;
      };
      if (size < 8) {
        low = with_band(low, size);
      } else {
        high = with_band(high, size - 8);
      }
      std::memcpy(key, &low, 8);
      std::memcpy(key + 8, &high, 8);
    } else {
      std::memcpy(key, b + start, size);
      key[size] = static_cast<char>(BandSum::kIntegerBand);
    }
    k = key;
    n = size + 1;
    start = sep[i + 1] + 1;
    i += 2;
  }
};

// What a banded stream's map does with each line of its mapper's output: the
// key gets the value's band byte, then goes to the table.
template <class P>
class BandedRecord {
 public:
  explicit BandedRecord(SpillingTable<KeyTable<typename P::Value>> table) : table_(table) {}

  // Takes the plain lines from line i on (as NumericRecord::run).
  void run(const char* b, const std::uint32_t* sep, std::size_t& i, std::size_t count,
           std::size_t& start) const {
    BandedPlainLines<P> lines{b, sep, i, count, start, {}};
    take_plain_lines(lines, table_, CombineBy<P>{}, i, start);
  }

  template <class Key>  // PaddedView or std::string_view
  void operator()(Key key, std::string_view value) const {
    int band;
    const typename P::Value v = P::parse(value, band);
    const std::string_view k = key;
    if (k.size() <= kShort) {
      std::memcpy(short_key_.data(), k.data(), k.size());
      short_key_[k.size()] = static_cast<char>(band);
      table_.table().upsert(PaddedView{std::string_view(short_key_.data(), k.size() + 1)}, v,
                            CombineBy<P>{});
    } else {
      long_key_.assign(k);
      long_key_.push_back(static_cast<char>(band));
      table_.table().upsert(std::string_view(long_key_), v, CombineBy<P>{});
    }
    table_.check();
  }

 private:
  SpillingTable<KeyTable<typename P::Value>> table_;
  // The key with its band byte; keys of up to kShort bytes go in a padded array.
  static constexpr std::size_t kShort = 31;
  mutable std::array<char, kShort + 1 + kViewPadding> short_key_{};
  mutable std::string long_key_;
};

// One key's entries (one per band) added up: a key of one band (most keys)
// is rounded from its BandSum; the others are added up in an ExactSum.
class BandTotal {
 public:
  template <class P>
  void add(std::string_view table_key, const std::byte* bytes) {
    typename P::Value v;
    std::memcpy(&v, bytes, sizeof v);
    const int band = static_cast<unsigned char>(table_key.back());
    count_ += P::count(v);
    if (entries_++ == 0) {
      band_ = band;
      first_ = P::band_sum(v);
      return;
    }
    if (entries_ == 2) {
      wide_.emplace();
      wide_->add(band_, first_);
    }
    wide_->add(band, P::band_sum(v));
  }
  double sum() const { return entries_ == 1 ? first_.value(band_) : wide_->value(); }
  std::uint64_t count() const { return count_; }

 private:
  std::uint64_t entries_ = 0, count_ = 0;
  int band_ = 0;
  BandSum first_;
  std::optional<ExactSum> wide_;  // from the second entry on
};

template <class P>
double result_of(const BandTotal& total) {
  const double sum = total.sum();
  return P::kCounts ? sum / static_cast<double>(total.count()) : sum;
}
inline std::uint64_t count_of(const BandTotal& total) { return total.count(); }

// The keys' totals of spilled banded pairs, element(total) for each key.
template <class P, class T, T (*element)(const BandTotal&)>
class SpilledBandTotals final : public ColumnReader<T> {
 public:
  explicit SpilledBandTotals(const PairSource& pairs) : in_(pairs, kBandedLayout) {}
  std::size_t read(T* out, std::size_t n) override {
    std::size_t i = 0;
    while (i < n) {
      if (!pending_ && !(pending_ = in_.next())) break;
      BandTotal total;
      last_.assign(in_.part());
      do {
        total.add<P>(in_.key(), in_.value());
      } while ((pending_ = in_.next()) && in_.part() == last_);
      out[i++] = element(total);
    }
    return i;
  }

 private:
  detail::GroupCursor in_;
  bool pending_ = false;  // in_ stands at the first entry of the next key
  std::string last_;
};

// A stream job summing floats exactly, or averaging them (policy P: SumFloat
// or MeanFloat): each table key is the job's key and a band byte.
template <class P>
class BandedStream final : public TableRuntime<typename P::Value, CombineBy<P>> {
 public:
  using Value = typename P::Value;
  explicit BandedStream(StreamConfig config) : config_(std::move(config)) {}

  const char* name() const override { return "stream"; }
  Input input() const override { return Input::kText; }
  Plan plan() const override { return {}; }
  bool prefetch_units() const override { return false; }  // a mapper may be slow
  KeyLayout key_layout() const override { return kBandedLayout; }
  void check_on_every_rank() const override { check_command(config_.mapper, "--mapper"); }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_through_mappers(config_, plan, threads, units, this->spiller_, this->tables_,
                        [this](KeyTable<Value>& table) {
                          return BandedRecord<P>(SpillingTable(table, this->spiller_));
                        });
  }

  // Every key's result, kept for write().
  void finish_reduce(std::span<const std::string_view> keys,
                     std::span<const std::byte* const> values, const std::byte*, int) override {
    results_.clear();
    counts_.clear();
    for (std::size_t i = 0; i < keys.size();) {
      BandTotal total;
      const std::string_view part = kBandedLayout.part(keys[i]);
      for (; i < keys.size() && kBandedLayout.part(keys[i]) == part; ++i) {
        total.add<P>(keys[i], values[i]);
      }
      results_.push_back(checked(part, total));
      if constexpr (P::kCounts) counts_.push_back(total.count());
    }
  }
  void finish_spilled(const PairSource& pairs, const std::byte*, int) override {
    detail::GroupCursor in(pairs, kBandedLayout);
    bool pending = in.next();
    std::string last;
    while (pending) {
      BandTotal total;
      last.assign(in.part());
      do {
        total.add<P>(in.key(), in.value());
      } while ((pending = in.next()) && in.part() == last);
      checked(last, total);
    }
  }

  void write(Output& out, std::span<const std::string_view> keys,
             std::span<const std::byte* const>, std::uint64_t, std::uint64_t total_groups,
             const std::byte*, const Plan&) const override {
    std::vector<std::string_view> parts;
    parts.reserve(results_.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string_view part = kBandedLayout.part(keys[i]);
      if (parts.empty() || part != parts.back()) parts.push_back(part);
    }
    out.write_keys("stream/keys", parts);
    out.write<double>("stream/values", results_);
    if constexpr (P::kCounts) out.write<std::uint64_t>("stream/counts", counts_);
    write_common_attributes(out, config_, total_groups);
  }

  bool writes_spilled() const override { return true; }
  void write_spilled(Output& out, const PairSource& pairs, std::uint64_t,
                     std::uint64_t total_groups, const std::byte*, const Plan&) const override {
    std::uint64_t groups = 0, group_bytes = 0;
    {
      detail::GroupCursor in(pairs, kBandedLayout);
      std::string last;
      while (in.next()) {
        if (groups > 0 && in.part() == last) continue;
        ++groups;
        last.assign(in.part());
        group_bytes += last.size();
      }
    }
    out.write_keys("stream/keys", Column<std::string_view>(
                                      groups,
                                      [&pairs] {
                                        return std::make_unique<detail::SpilledGroupKeys>(
                                            pairs, kBandedLayout);
                                      },
                                      group_bytes));
    out.write("stream/values", Column<double>(groups, [&pairs] {
                return std::make_unique<SpilledBandTotals<P, double, result_of<P>>>(pairs);
              }));
    if constexpr (P::kCounts) {
      out.write("stream/counts", Column<std::uint64_t>(groups, [&pairs] {
                  return std::make_unique<SpilledBandTotals<P, std::uint64_t, count_of>>(pairs);
                }));
    }
    write_common_attributes(out, config_, total_groups);
  }

 private:
  // The key's result; a sum beyond the largest double fails the job.
  static double checked(std::string_view key, const BandTotal& total) {
    const double result = result_of<P>(total);
    if (!std::isfinite(result)) {
      throw RunError(fmt::format("the sum for key {} is beyond the largest double", shown(key)));
    }
    return result;
  }

  StreamConfig config_;
  std::vector<double> results_;          // finish_reduce's, for write()
  std::vector<std::uint64_t> counts_;
};

// A stream job that keeps every value: `collect`, or an external reducer that
// gets each key's values after the shuffle. Table keys are the escaped key
// followed by a value's bytes, counted (so a key's values travel together and
// come out sorted).
// A list stream's plain lines for KeyTable::upsert_run: `key<TAB>value` with
// no NUL in the key, no \r before the newline and at most kLongest bytes of
// table key, which is the escaped key (the key, then two NULs) and the value,
// built in key[]; its count is 1. Any other line is left to the general path.
struct ListPlainLines {
  static constexpr bool kLongKeys = true;
  static constexpr std::size_t kLongest = 64;
  const char* b;
  const std::uint32_t* sep;  // sep[i]: the next line's tab, sep[i + 1] its newline
  std::size_t i, count;
  std::size_t start;  // where the next line starts
  alignas(8) char key[kLongest + kViewPadding];

  bool next(const char*& k, std::size_t& n, std::uint64_t& value) {
    value = 1;
    return take(k, n);
  }
  bool next_key(const char*& k, std::size_t& n) { return take(k, n); }

 private:
  bool take(const char*& k, std::size_t& n) {
    if (i + 1 >= count) return false;
    const std::uint32_t tab = sep[i], newline = sep[i + 1];
    const std::size_t size = tab - start, value_size = newline - tab - 1;
    if (b[tab] != '\t' || b[newline] != '\n' || size + 2 + value_size > kLongest ||
        b[newline - 1] == '\r' || std::memchr(b + start, '\0', size) != nullptr) {
      return false;
    }
    std::memcpy(key, b + start, size);
    key[size] = '\0';
    key[size + 1] = '\0';
    std::memcpy(key + size + 2, b + tab + 1, value_size);
    k = key;
    n = size + 2 + value_size;
    start = newline + 1;
    i += 2;
    return true;
  }
};

// What a list stream's map does with each line of its mapper's output: the
// escaped key and the value make one table key, which counts its lines.
class ListRecord {
 public:
  explicit ListRecord(SpillingTable<KeyTable<std::uint64_t>> table) : table_(table) {}

  template <class Key>  // PaddedView or std::string_view
  void operator()(Key key, std::string_view value) const {
    buffer_->clear();
    escape_key(std::string_view(key), *buffer_);
    buffer_->append(value);
    table_.table().upsert(std::string_view(*buffer_), std::uint64_t{1}, AddCounts{});
    table_.check();
  }
  // Takes the plain lines from line i on (as NumericRecord::run).
  void run(const char* b, const std::uint32_t* sep, std::size_t& i, std::size_t count,
           std::size_t& start) const {
    ListPlainLines lines{b, sep, i, count, start, {}};
    take_plain_lines(lines, table_, AddCounts{}, i, start);
  }

 private:
  SpillingTable<KeyTable<std::uint64_t>> table_;
  std::shared_ptr<std::string> buffer_ = std::make_shared<std::string>();
};

class ListStream final : public TableRuntime<std::uint64_t, AddCounts> {
 public:
  ListStream(StreamConfig config, bool external)
      : config_(std::move(config)), external_(external) {}

  const char* name() const override { return "stream"; }
  Input input() const override { return Input::kText; }
  Plan plan() const override { return {}; }
  bool prefetch_units() const override { return false; }  // a mapper may be slow
  KeyLayout key_layout() const override { return {.terminated = true}; }
  void check_on_every_rank() const override {
    check_command(config_.mapper, "--mapper");
    if (external_) check_command(config_.reducer, "--reducer");
    if (!config_.combiner.empty()) check_command(config_.combiner, "--combiner");
  }

  void map(const Plan& plan, int threads, UnitSource& units) override {
    map_through_mappers(config_, plan, threads, units, spiller_, tables_,
                        [this](KeyTable<std::uint64_t>& table) {
                          return ListRecord(SpillingTable(table, spiller_));
                        });
    if (!config_.combiner.empty()) run_combiners(threads);
  }
  void finish_reduce(std::span<const std::string_view> keys,
                     std::span<const std::byte* const> values, const std::byte*,
                     int threads) override {
    if (external_) run_reducers(keys, values, threads);
  }
  void finish_spilled(const PairSource& pairs, const std::byte*, int threads) override {
    if (external_) run_reducers(pairs, threads);
  }

  bool writes_spilled() const override { return true; }
  void write_spilled(Output& out, const PairSource& pairs, std::uint64_t,
                     std::uint64_t total_groups, const std::byte*, const Plan&) const override {
    if (external_) {
      write_reduced(out);
      return;
    }
    // A first pass: the distinct keys (unescaped) and the values' bytes.
    const KeyLayout layout = key_layout();
    std::uint64_t groups = 0, group_bytes = 0, value_bytes = 0;
    {
      detail::GroupCursor in(pairs, layout);
      std::string last;
      while (in.next()) {
        value_bytes += in.rest().size();
        if (groups > 0 && in.part() == last) continue;
        ++groups;
        last.assign(in.part());
        group_bytes += unescape_key(last).size();
      }
    }
    out.write_keys("stream/keys", Column<std::string_view>(
                                      groups,
                                      [&pairs, layout] {
                                        return std::make_unique<detail::SpilledGroupKeys>(
                                            pairs, layout, true);
                                      },
                                      group_bytes));
    out.write_offsets("stream/groups", Column<std::uint64_t>(groups, [&pairs, layout] {
                        return std::make_unique<detail::SpilledGroupSizes>(pairs, layout);
                      }));
    out.write_keys(
        "stream/values",
        Column<std::string_view>(
            pairs.size(),
            [&pairs, layout] { return std::make_unique<detail::SpilledRests>(pairs, layout); },
            value_bytes));
    out.write("stream/counts", Column<std::uint64_t>(pairs.size(), [&pairs, layout] {
                return std::make_unique<detail::SpilledGroupCounts>(pairs, layout);
              }));
    write_common_attributes(out, config_, total_groups);
  }

  void write(Output& out, std::span<const std::string_view> keys,
             std::span<const std::byte* const> values, std::uint64_t, std::uint64_t total_groups,
             const std::byte*, const Plan&) const override {
    if (external_) {
      write_reduced(out);
      return;
    }
    std::vector<std::string> distinct;
    std::vector<std::uint64_t> sizes, counts(keys.size());
    std::vector<std::string_view> items(keys.size());
    const KeyLayout layout = key_layout();
    std::string_view last_part;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string_view part = layout.part(keys[i]);
      if (i == 0 || part != last_part) {
        distinct.push_back(unescape_key(part));
        sizes.push_back(0);
        last_part = part;
      }
      ++sizes.back();
      items[i] = keys[i].substr(part.size());
      std::memcpy(&counts[i], values[i], sizeof(std::uint64_t));
    }
    const std::vector<std::string_view> distinct_views(distinct.begin(), distinct.end());
    out.write_keys("stream/keys", distinct_views);
    out.write_offsets("stream/groups", sizes);
    out.write_keys("stream/values", items);
    out.write<std::uint64_t>("stream/counts", counts);
    write_common_attributes(out, config_, total_groups);
  }

 private:
  // This rank's keys cut into one slice per thread at key boundaries; each
  // slice goes through its own reducer child, fed key<TAB>value lines in order.
  void run_reducers(std::span<const std::string_view> keys,
                    std::span<const std::byte* const> values, int threads) {
    const KeyLayout layout = key_layout();
    std::vector<std::size_t> cuts{0};
    for (int t = 1; t < threads; ++t) {
      std::size_t at = std::max(cuts.back(), keys.size() * t / threads);
      while (at > 0 && at < keys.size() && layout.part(keys[at]) == layout.part(keys[at - 1])) ++at;
      cuts.push_back(at);
    }
    cuts.push_back(keys.size());
    in_threads(threads, [&](int t, int rank, StderrRelay& relay) {
      if (cuts[t] == cuts[t + 1]) return;
      pipe_sorted(config_.reducer, "reducer", keys.subspan(cuts[t], cuts[t + 1] - cuts[t]),
                  values.subspan(cuts[t], cuts[t + 1] - cuts[t]), rank, t, relay, collector(t));
    });
  }

  // The same for a spilled result: a first pass finds the cuts (as pair
  // indices) and each slice's first and last key; then each thread reads its
  // slice from the scratch folder.
  void run_reducers(const PairSource& pairs, int threads) {
    const KeyLayout layout = key_layout();
    const std::uint64_t n = pairs.size();
    std::vector<std::uint64_t> cuts{0};
    std::vector<std::string> first, last;
    {
      detail::GroupCursor in(pairs, layout);
      std::string previous;
      for (std::uint64_t i = 0; in.next(); ++i) {
        const bool new_part = i == 0 || in.part() != previous;
        // A slice ends where the next one's share starts, at a key boundary.
        if (new_part && i > 0 && static_cast<int>(cuts.size()) < threads &&
            i >= n * cuts.size() / static_cast<std::uint64_t>(threads)) {
          cuts.push_back(i);
          last.push_back(unescape_key(previous));
        }
        if (new_part && first.size() < cuts.size()) first.push_back(unescape_key(in.part()));
        if (new_part) previous.assign(in.part());
      }
      if (n > 0) last.push_back(unescape_key(previous));
    }
    while (static_cast<int>(cuts.size()) < threads) cuts.push_back(n);
    cuts.push_back(n);
    in_threads(threads, [&](int t, int rank, StderrRelay& relay) {
      if (cuts[t] == cuts[t + 1]) return;
      pipe_through(
          config_.reducer, "reducer", first[t], last[t],
          [&](const auto& feed) {
            detail::GroupCursor in(pairs, layout);
            for (std::uint64_t i = 0; i < cuts[t + 1] && in.next(); ++i) {
              if (i >= cuts[t]) feed(in.part(), in.rest(), in.count());
            }
          },
          rank, t, relay, collector(t));
    });
  }

  // Runs f(thread, rank, relay) on `threads` OpenMP threads, each with its
  // own outputs_ slot; the first error is thrown once all are done. A
  // reducer's output beyond its share of the reduce's memory (--memory / 4)
  // goes to the scratch folder in sorted runs.
  template <class F>
  void in_threads(int threads, F&& f) {
    const auto* spill = dynamic_cast<const Spill*>(spiller_);
    const std::size_t budget =
        spill != nullptr ? spill->reduce_table_bytes() / static_cast<std::size_t>(threads) / 4 : 0;
    outputs_.clear();
    for (int t = 0; t < threads; ++t) {
      outputs_.push_back(std::make_unique<ReducerOutput>(
          spill != nullptr ? &spill->scratch() : nullptr, budget));
    }
    const int rank = world_rank();
    StderrRelay relay(rank);
    std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) {
      try {
        f(t, rank, relay);
      } catch (...) {
#pragma omp critical(gridmr_stream_reduce_error)
        if (!error) error = std::current_exception();
      }
    }
    relay.report_suppressed();
    if (error) std::rethrow_exception(error);
    for (auto& output : outputs_) output->finish();
  }

  // Thread t's reducer output, as Child hands it over.
  Child::OnOutput collector(int t) {
    return [output = outputs_[t].get()](std::string_view bytes) { output->append(bytes); };
  }

  // pipe_through for sorted table keys in memory, with their counts.
  void pipe_sorted(const std::string& command, const char* role,
                   std::span<const std::string_view> keys, std::span<const std::byte* const> values,
                   int rank, int thread, StderrRelay& relay, const Child::OnOutput& collect) const {
    const KeyLayout layout = key_layout();
    pipe_through(
        command, role, unescape_key(layout.part(keys.front())),
        unescape_key(layout.part(keys.back())),
        [&](const auto& feed) {
          for (std::size_t i = 0; i < keys.size(); ++i) {
            const std::string_view part = layout.part(keys[i]);
            std::uint64_t count;
            std::memcpy(&count, values[i], sizeof count);
            feed(part, keys[i].substr(part.size()), count);
          }
        },
        rank, thread, relay, collect);
  }

  // Feeds pairs to `command` as key<TAB>value lines, each as often as its
  // count, and hands its stdout to `collect`. each_pair(feed) calls feed(escaped key
  // part, value, count) for the pairs in key order; `first` and `last` name
  // its keys in messages, and `role` ("reducer", "combiner") the command.
  template <class EachPair>
  void pipe_through(const std::string& command, const char* role, const std::string& first,
                    const std::string& last, EachPair&& each_pair, int rank, int thread,
                    StderrRelay& relay, const Child::OnOutput& collect) const {
    Child child(command,
                {fmt::format("GRIDMR_RANK={}", rank), fmt::format("GRIDMR_THREAD={}", thread)},
                Limits{config_.timeout, 0}, &relay, role);
    const auto fail = [&](const std::string& what) {
      std::string message =
          fmt::format("{} {} {} (rank {}, thread {}, keys {} to {})", role, quote_path(command),
                      what, rank, thread, shown(first), shown(last));
      if (!child.last_stderr_line().empty()) {
        message += "; its last stderr line: " + shown(child.last_stderr_line());
      }
      throw RunError(message);
    };
    const auto send = [&](std::string& feed) {
      if (!child.write(feed, collect)) {
        const ChildStatus status = child.finish(collect);
        fail(status.ok() ? "stopped reading its input (exited with status 0)"
                         : status.describe(config_.timeout));
      }
      feed.clear();
    };
    std::string feed, key, last_part;
    bool started = false;
    each_pair([&](std::string_view part, std::string_view value, std::uint64_t count) {
      if (!started || part != last_part) {
        key = unescape_key(part);
        last_part.assign(part);
        started = true;
      }
      for (std::uint64_t c = 0; c < count; ++c) {
        feed.append(key);
        feed.push_back('\t');
        feed.append(value);
        feed.push_back('\n');
        if (feed.size() >= kFeedBatch) send(feed);
      }
    });
    if (!feed.empty()) send(feed);
    const ChildStatus status = child.finish(collect);
    if (!status.ok()) fail(status.describe(config_.timeout));
  }

  // Each map thread's output goes through the combiner (sorted key<TAB>value
  // lines in, key<TAB>value lines out) and its table is replaced by what the
  // combiner printed: less to shuffle when the combiner folds a key's values.
  void run_combiners(int threads) {
    const int rank = world_rank();
    StderrRelay relay(rank);
    std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) {
      try {
        std::vector<std::pair<std::string_view, const std::byte*>> entries;
        tables_[t].view().for_each([&](std::string_view key, const std::byte* value) {
          entries.emplace_back(key, value);
        });
        if (entries.empty()) continue;
        std::sort(entries.begin(), entries.end());
        std::vector<std::string_view> keys;
        std::vector<const std::byte*> values;
        for (const auto& [key, value] : entries) keys.push_back(key), values.push_back(value);
        std::string output;
        pipe_sorted(config_.combiner, "combiner", keys, values, rank, t, relay,
                    [&output](std::string_view bytes) { output.append(bytes); });
        KeyTable<std::uint64_t> combined;
        std::string buffer;
        for_each_output_line(output, [&](std::string_view key, std::string_view value, bool tab) {
          if (!tab) {
            throw RunError(
                fmt::format("combiner {} printed a line without a tab (rank {}, "
                            "thread {}): line {}",
                            quote_path(config_.combiner), rank, t, shown(key)));
          }
          buffer.clear();
          escape_key(key, buffer);
          buffer.append(value);
          combined.upsert(std::string_view(buffer), std::uint64_t{1}, AddCounts{});
        });
        tables_[t] = std::move(combined);
      } catch (...) {
#pragma omp critical(gridmr_stream_combine_error)
        if (!error) error = std::current_exception();
      }
    }
    relay.report_suppressed();
    if (error) std::rethrow_exception(error);
  }

  // The reducers' lines as key<TAB>value (no tab: all key), stably sorted by
  // key: merged from their runs as the writer reads them.
  void write_reduced(Output& out) const {
    std::uint64_t mine = 0, total = 0;
    for (const auto& output : outputs_) mine += output->lines();
    MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    // Every run has a reader: together they take at most the reduce's share of --memory.
    const auto* spill = dynamic_cast<const Spill*>(spiller_);
    std::size_t runs = 1, reader_bytes = 1 << 20;
    for (const auto& output : outputs_) runs += output->file_runs().size();
    if (spill != nullptr) {
      reader_bytes = std::clamp<std::size_t>(spill->reduce_table_bytes() / runs, 4 << 10,
                                             spill->reader_bytes());
    }
    out.write_keys("stream/keys", merged_keys(outputs_, reader_bytes));
    out.write_keys("stream/values", merged_values(outputs_, reader_bytes));
    write_common_attributes(out, config_, total);
  }

  StreamConfig config_;
  bool external_;
  std::vector<std::unique_ptr<ReducerOutput>> outputs_;  // each reducer's stdout, in slice order
};

// Whether --reducer names a command rather than a built-in reducer.
bool external(const std::string& reducer) {
  for (const char* builtin : {"sum", "min", "max", "count", "mean", "collect"}) {
    if (reducer == builtin) return false;
  }
  return true;
}

std::unique_ptr<JobRuntime> make_stream(const StreamConfig& config) {
  if (config.mapper.empty()) throw UsageError("stream: --mapper is required");
  if (config.values != "int" && config.values != "float") {
    throw UsageError("--values: must be int or float, not " + shown(config.values));
  }
  if (config.timeout < 0 || !std::isfinite(config.timeout)) {
    throw UsageError("--timeout: must be a number of seconds >= 0");
  }
  const bool real = config.values == "float";
  const std::string& r = config.reducer;
  if (!config.combiner.empty() && !external(r)) {
    throw UsageError(
        "--combiner: needs an external --reducer (the built-in reducers combine "
        "in gridmr's own tables already)");
  }
  if (r == "count") return std::make_unique<NumericStream<CountValues>>(config);
  if (r == "sum") {
    if (real) return std::make_unique<BandedStream<SumFloat>>(config);
    return std::make_unique<NumericStream<SumInt>>(config);
  }
  if (r == "min") {
    if (real) return std::make_unique<NumericStream<ExtremeFloat<true>>>(config);
    return std::make_unique<NumericStream<ExtremeInt<true>>>(config);
  }
  if (r == "max") {
    if (real) return std::make_unique<NumericStream<ExtremeFloat<false>>>(config);
    return std::make_unique<NumericStream<ExtremeInt<false>>>(config);
  }
  if (r == "mean") {
    if (real) return std::make_unique<BandedStream<MeanFloat>>(config);
    return std::make_unique<NumericStream<MeanInt>>(config);
  }
  if (r == "collect") return std::make_unique<ListStream>(config, false);
  if (r.empty()) throw UsageError("--reducer: the command is empty");
  return std::make_unique<ListStream>(config, true);
}

}  // namespace

}  // namespace stream

JobEntry stream_command() {
  auto config = std::make_shared<stream::StreamConfig>();
  return JobEntry{
      "stream",
      "Map with any program (lines in, key<TAB>value lines out) and reduce with a built-in "
      "reducer or another program",
      Input::kText,
      [config](JobOptions& options) {
        options
            .text("--mapper", config->mapper,
                  "Command run by /bin/sh, one per map thread and input file (see "
                  "--combine-files): gets the unit's lines on stdin, prints key<TAB>value lines; "
                  "required. Python functions instead: gridmr_stream.run(mapper, reducer) in "
                  "job.py, then --mapper \"python3 job.py map\" (docs/streaming.md)")
            .text("--reducer", config->reducer,
                  "sum, min, max, count, mean, collect (every value of a key), or a command "
                  "that gets each key's values as sorted key<TAB>value lines")
            .text("--values", config->values,
                  "int: values are exact 64-bit integers; float: integers or decimals, summed "
                  "exactly and rounded once")
            .text("--combiner", config->combiner,
                  "With a --reducer command: a command run on each map thread's output before the "
                  "shuffle, like the reducer (sorted key<TAB>value lines in, key<TAB>value lines "
                  "out)")
            .number("--timeout", config->timeout,
                    "Seconds a mapper or reducer may go without reading or writing before it is "
                    "killed; 0: no limit")
            .flag("--combine-files", config->combine_files,
                  "Keep each map thread's mapper for the whole job, across input files, instead "
                  "of a new one per file (many small files: one start-up instead of one per "
                  "file); its environment then names no input file")
            .flag("--include-path", config->include_path,
                  "Give the mapper each line as PATH<TAB>line, PATH the path of its input file "
                  "(with --combine-files, for a mapper that needs each line's file)");
      },
      [config] { return stream::make_stream(*config); },
      {}};
}

}  // namespace gridmr
