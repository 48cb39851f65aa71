// Sorted runs: writing a table as a run, merging runs, shuffling them.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <mpi.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../jobs/wordcount.hpp"
#include "gridmr/core/whole_io.hpp"
#include "gridmr/detail/records.hpp"
#include "gridmr/detail/runtime_for.hpp"
#include "gridmr/shuffle/partitioner.hpp"
#include "gridmr/shuffle/shuffle.hpp"
#include "gridmr/spill/runs.hpp"
#include "gridmr/spill/spill.hpp"
#include "temp_dir.hpp"

namespace {

// Keys of every kind: short, past a slot's 16 bytes, past the 256 bytes a run's
// marks keep, empty, and with bytes 0x00 and >= 0x80.
std::string random_key(std::mt19937_64& pick) {
  static const std::string bytes("ab\0\x7f\x80\xff", 6);
  const std::size_t sizes[] = {0, 1, 3, 8, 15, 16, 17, 40, 255, 256, 257, 900};
  std::string key(sizes[pick() % std::size(sizes)], 'k');
  for (auto& c : key) c = pick() % 4 == 0 ? bytes[pick() % bytes.size()] : 'a' + pick() % 3;
  return key;
}

std::vector<std::pair<std::string, std::uint64_t>> read_run(
    const std::shared_ptr<const gridmr::Run>& run) {
  gridmr::RunReader reader(run, 0, run->bytes(), 8, 100);  // a tiny buffer: records span refills
  std::vector<std::pair<std::string, std::uint64_t>> pairs;
  std::string_view key;
  const std::byte* value;
  while (reader.next(key, value)) {
    std::uint64_t v;
    std::memcpy(&v, value, sizeof v);
    pairs.emplace_back(std::string(key), v);
  }
  return pairs;
}

}  // namespace

TEST_CASE("runs: a table's run is sorted, its merge folds equal keys, its marks are right") {
  TempDir dir;
  const gridmr::Scratch scratch(dir.path.string());
  auto job = gridmr::make_runtime<jobs::WordCount>({});
  std::mt19937_64 pick(21);
  const auto add = [](std::uint64_t a, std::uint64_t b) { return a + b; };
  std::map<std::string, std::uint64_t> want;
  std::vector<std::shared_ptr<const gridmr::Run>> runs;
  for (int t = 0; t < 5; ++t) {
    gridmr::KeyTable<std::uint64_t> table;
    for (int i = 0; i < 3000; ++i) {
      const std::string key = random_key(pick);
      const std::uint64_t value = pick() % 1000;
      table.upsert(key, value, add);
      want[key] += value;
    }
    runs.push_back(gridmr::write_sorted_run(scratch, table.view(), {}, 8));
    const auto pairs = read_run(runs.back());
    CHECK(pairs.size() == table.size());
    for (std::size_t i = 1; i < pairs.size(); ++i) CHECK(pairs[i - 1].first < pairs[i].first);
  }
  const auto merged = gridmr::merge_runs(scratch, runs, *job, 64);
  const auto pairs = read_run(merged);
  const std::vector<std::pair<std::string, std::uint64_t>> expected(want.begin(), want.end());
  CHECK(expected == pairs);  // std::map orders bytes as unsigned, as runs do
  CHECK(merged->records() == want.size());
  std::uint64_t key_bytes = 0;
  for (const auto& [key, value] : want) key_bytes += key.size();
  CHECK(merged->key_bytes() == key_bytes);
  // Every mark names the key part of the record at its offset.
  for (const auto& mark : merged->marks()) {
    gridmr::RunReader reader(merged, mark.offset, merged->bytes(), 8, 4096);
    std::string_view key;
    const std::byte* value;
    REQUIRE(reader.next(key, value));
    CHECK(key == mark.part);
  }
  CHECK(merged->marks().size() > 1);
}

TEST_CASE("runs: the shuffle sends the pairs of tables and runs, in tiny rounds") {
  TempDir dir;
  const gridmr::Scratch scratch(dir.path.string());
  std::mt19937_64 pick(5);
  const auto add = [](std::uint64_t a, std::uint64_t b) { return a + b; };
  std::map<std::string, std::uint64_t> want;
  gridmr::KeyTable<std::uint64_t> in_memory, spilled;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = random_key(pick);
    (i % 2 ? in_memory : spilled).upsert(key, 1, add);
    ++want[key];
  }
  const std::vector<std::shared_ptr<const gridmr::Run>> runs{
      gridmr::write_sorted_run(scratch, spilled.view(), {}, 8)};
  const std::vector<gridmr::TableView> tables{in_memory.view()};
  const gridmr::RangePartitioner p(gridmr::choose_splitters({}, 1));
  std::map<std::string, std::uint64_t> got;
  const auto stats = gridmr::shuffle(
      MPI_COMM_WORLD, {tables, runs, 128}, 8, {}, p, 512, [&](const char* d, std::size_t n) {
        gridmr::for_each_record(d, n, 8, [&](std::string_view k, const char* bytes) {
          std::uint64_t v;
          std::memcpy(&v, bytes, sizeof v);
          got[std::string(k)] += v;
        });
      });
  CHECK(stats.rounds > 10);
  CHECK(got == want);
}

TEST_CASE("runs: a scratch folder that cannot be written is a run failure naming it") {
  const gridmr::Scratch missing("/nonexistent/gridmr-scratch");
  CHECK_THROWS_WITH_AS(missing.create(), doctest::Contains("/nonexistent/gridmr-scratch"),
                       gridmr::RunError);
}

namespace {

// A Spiller that only counts the pairs it is given.
class CountingSpiller final : public gridmr::Spiller {
 public:
  explicit CountingSpiller(std::size_t map_bytes) : map_bytes_(map_bytes) {}
  std::size_t map_table_bytes() const override { return map_bytes_; }
  std::size_t reduce_table_bytes() const override { return map_bytes_; }
  void spill_map(const gridmr::TableView& table) override {
    ++spills;
    pairs += table.size;
  }
  void spill_restored(const gridmr::TableView&) override {}
  void spill_reduce(const gridmr::TableView&) override {}
  std::size_t spills = 0, pairs = 0;

 private:
  std::size_t map_bytes_;
};

class NoUnits final : public gridmr::UnitSource {
 public:
  std::optional<gridmr::WorkUnit> next(bool) override { return std::nullopt; }
  void done(const gridmr::WorkUnit&) override {}
};

}  // namespace

TEST_CASE("after_unit: a table that outgrew its share between checks spills once, then starts small") {
  // As a farm's table grows: 64 keys a unit, checked after each unit. Once its
  // slots alone pass the share, a spill must not leave them behind (every
  // later unit would spill again: 30 s instead of 1 for a 1M-item farm).
  CountingSpiller spiller(1 << 20);
  NoUnits units;
  gridmr::KeyTable<std::uint64_t> table;
  std::uint64_t key = 0;
  const auto plus = [](std::uint64_t a, std::uint64_t b) { return a + b; };
  for (int unit = 0; unit < 2000; ++unit) {
    for (int i = 0; i < 64; ++i, ++key) {
      table.upsert(std::string_view(reinterpret_cast<const char*>(&key), sizeof key), key, plus);
    }
    gridmr::after_unit(units, table, &spiller);
  }
  CHECK(spiller.pairs + table.size() == key);  // every pair spilled once or still in the table
  // 128,000 keys of ~40 bytes a slot, 1 MiB a table: a spill every ~26,000 keys, not every unit.
  CHECK(spiller.spills >= 2);
  CHECK(spiller.spills <= 20);
  CHECK(table.memory_bytes() <= spiller.map_table_bytes());
}

TEST_CASE("runs: a spill file cut short is a run failure, never fewer records") {
  TempDir dir;
  const gridmr::Scratch scratch(dir.path.string());
  auto job = gridmr::make_runtime<jobs::WordCount>({});
  std::mt19937_64 pick(5);
  gridmr::KeyTable<std::uint64_t> table;
  for (int i = 0; i < 3000; ++i) {
    table.upsert(random_key(pick), 1, [](std::uint64_t a, std::uint64_t b) { return a + b; });
  }
  const auto run = gridmr::write_sorted_run(scratch, table.view(), {}, 8);
  REQUIRE(read_run(run).size() == table.size());
  REQUIRE(::ftruncate(run->fd(), static_cast<off_t>(run->bytes() / 2)) == 0);
  CHECK_THROWS_WITH_AS(
      read_run(run),
      doctest::Contains("cannot read a spill file back: it is shorter than written"),
      gridmr::RunError);
  const gridmr::SpilledPairs pairs(run, *job, 4096);
  std::vector<std::string_view> keys;
  std::vector<const std::byte*> values;
  std::vector<char> storage;
  CHECK_THROWS_WITH_AS(
      pairs.load(keys, values, storage),
      doctest::Contains("cannot read a spill file back: it is shorter than written"),
      gridmr::RunError);
}

namespace {
extern "C" void on_test_signal(int) {}
}  // namespace

TEST_CASE("whole_io: writes cut short by signals are resumed; a full device is ENOSPC") {
  // A signal without SA_RESTART makes a blocked pipe write return early (or fail
  // with EINTR): write_fully carries on where it stopped.
  struct sigaction action {}, before {};
  action.sa_handler = on_test_signal;
  sigemptyset(&action.sa_mask);
  REQUIRE(::sigaction(SIGUSR1, &action, &before) == 0);
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  std::string text(std::size_t{8} << 20, '\0');
  std::mt19937 rng(5);
  for (char& c : text) c = static_cast<char>(rng());
  std::atomic<bool> wrote_all{false}, done{false};
  std::thread writer([&] {
    wrote_all = gridmr::write_fully(pipe_fds[1], text.data(), text.size());
    ::close(pipe_fds[1]);
    done = true;
  });
  std::string got;
  std::vector<char> buffer(4096);
  int signals = 0;
  for (;;) {
    if (!done) {
      ::pthread_kill(writer.native_handle(), SIGUSR1);
      ++signals;
    }
    const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
    if (n <= 0) break;
    got.append(buffer.data(), static_cast<std::size_t>(n));
  }
  writer.join();
  ::close(pipe_fds[0]);
  ::sigaction(SIGUSR1, &before, nullptr);
  CHECK(signals > 100);
  CHECK(wrote_all);
  CHECK(got.size() == text.size());
  CHECK(got == text);

  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(full >= 0);
  errno = 0;
  CHECK_FALSE(gridmr::write_fully(full, text.data(), 100));
  CHECK(errno == ENOSPC);
  CHECK_FALSE(gridmr::pwrite_fully(full, text.data(), 100, 0));
  ::close(full);
}
