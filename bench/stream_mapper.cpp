// A trivial compiled streaming mapper for bench/stream.sh: reads stdin and
// prints `word<TAB>1` for every word (the word rule of docs/records.md, ASCII
// letters folded to lower case). Its own CPU time is what gridmr stream's
// overhead is measured against.
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

int main() {
  std::vector<char> in(1 << 16), out, word;
  out.reserve(1 << 17);
  const auto emit = [&] {
    out.insert(out.end(), word.begin(), word.end());
    out.insert(out.end(), {'\t', '1', '\n'});
    word.clear();
  };
  for (;;) {
    const ssize_t got = ::read(STDIN_FILENO, in.data(), in.size());
    if (got < 0) return 1;
    if (got == 0) break;
    for (ssize_t i = 0; i < got; ++i) {
      const auto c = static_cast<unsigned char>(in[i]);
      if (is_word_byte(c)) {
        word.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      } else if (!word.empty()) {
        emit();
      }
    }
    if (out.size() >= (1 << 16)) {
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) return 1;
      out.clear();
    }
  }
  if (!word.empty()) emit();
  return std::fwrite(out.data(), 1, out.size(), stdout) == out.size() ? 0 : 1;
}
