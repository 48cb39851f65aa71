// The reference the word count benchmark compares against: one thread,
// std::unordered_map<std::string, uint64_t>, the word rule of docs/records.md, reading the
// files in 1 MiB chunks. What a careful hand-written word count looks like.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: wordcount_baseline FILE...\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  std::unordered_map<std::string, std::uint64_t> counts;
  std::vector<char> buffer(1 << 20);
  std::string word;
  std::uint64_t bytes = 0, words = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", argv[i]);
      return 1;
    }
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const std::streamsize got = in.gcount();
      bytes += static_cast<std::uint64_t>(got);
      for (std::streamsize j = 0; j < got; ++j) {
        const auto c = static_cast<unsigned char>(buffer[j]);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
          word += static_cast<char>(c);
        } else if (c >= 'A' && c <= 'Z') {
          word += static_cast<char>(c + 32);
        } else if (!word.empty()) {
          ++counts[word];
          ++words;
          word.clear();
        }
      }
    }
    if (!word.empty()) {
      ++counts[word];
      ++words;
      word.clear();
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "baseline unordered_map 1 thread: %llu bytes, %llu words, %zu distinct in %.3f s = %.1f "
      "MB/s\n",
      static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(words), counts.size(),
      seconds, static_cast<double>(bytes) / seconds / 1e6);
}
