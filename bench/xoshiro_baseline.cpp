// The reference the Monte Carlo benchmark compares against: a plain one-thread
// xoshiro256+ loop estimating pi, the usual hand-written Monte Carlo. One 64-bit
// draw per sample gives both 32-bit coordinates, and the hit test is gridmr's
// exact integer one, so only the generator and the parallelism differ.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

struct Xoshiro256Plus {  // Blackman & Vigna, 2018
  std::uint64_t s[4];
  explicit Xoshiro256Plus(std::uint64_t seed) {
    for (auto& word : s) {  // SplitMix64 fills the state
      std::uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = s[0] + s[3], t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t samples = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000'000;
  Xoshiro256Plus rng(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1);
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t hits = 0;
  for (std::uint64_t i = 0; i < samples; ++i) {
    // The same exact test as gridmr: (u, v) / 2^32 is inside when u^2 + v^2 < 2^64.
    const std::uint64_t r = rng.next(), u = r >> 32, v = r & 0xffffffffu;
    hits += u * u + v * v >= u * u;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("xoshiro256+ 1 thread: %llu samples in %.3f s = %.1f M samples/s, pi ~ %.6f\n",
              static_cast<unsigned long long>(samples), seconds, samples / seconds / 1e6,
              4.0 * static_cast<double>(hits) / static_cast<double>(samples));
}
