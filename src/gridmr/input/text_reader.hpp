// Reads the words of one text work unit, streaming the file in chunks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/input/plan.hpp"
#include "gridmr/input/tokenizer.hpp"

namespace gridmr {

// A word belongs to the unit where it starts: the reader skips a word that
// began before `begin`, and reads past `end` to finish the last word that
// began before it. So units may cut anywhere and every word is seen once.
// One reader per thread: its buffer is reused from unit to unit.
class TextReader {
 public:
  explicit TextReader(std::size_t chunk_size = 1 << 20) : chunk_size_(chunk_size) {}

  // Calls f(word) for each word (lower-cased, a view valid during the call).
  template <class F>
  void for_each_word(const std::string& path, const WorkUnit& unit, F&& f);

 private:
  // Reads up to `want` bytes at `offset` into buffer_[at..]; returns bytes read (0 at end of file).
  std::size_t read_at(std::size_t at, std::size_t want, std::uint64_t offset);
  void open(const std::string& path);
  void close();
  bool starts_inside_word(std::uint64_t offset);
  // The file ended at `size`, before a unit planned from its earlier size.
  [[noreturn]] void throw_shrunk(std::uint64_t size) const;

  std::size_t chunk_size_;
  std::vector<char> buffer_;
  std::string path_;
  int fd_ = -1;
};

template <class F>
void TextReader::for_each_word(const std::string& path, const WorkUnit& unit, F&& f) {
  open(path);
  struct Closer {
    TextReader* r;
    ~Closer() { r->close(); }
  } closer{this};

  // file offset of buffer_[0]; bytes [0, filled) of the buffer hold data.
  std::uint64_t base = unit.begin;
  std::size_t filled = 0;
  std::size_t i = 0;
  bool skipping = unit.begin > 0 && starts_inside_word(unit.begin);
  std::size_t word = 0;     // buffer index where the current word starts
  bool in_word = false;

  for (;;) {
    // Refill: keep the unfinished word (if any) at the front of the buffer.
    const std::size_t keep = in_word ? filled - word : 0;
    if (keep != 0 && word != 0) std::memmove(buffer_.data(), buffer_.data() + word, keep);
    base += filled - keep;
    filled = keep;
    word = 0;
    i = keep;
    const std::uint64_t next = base + filled;
    // Inside the unit read up to its end; past it (finishing a word) read in small steps.
    const std::size_t want = next < unit.end ? std::min<std::uint64_t>(chunk_size_, unit.end - next)
                                             : std::size_t{4096};
    if (!in_word && next >= unit.end) return;   // the next word would start in the next unit
    if (skipping && next >= unit.end) return;   // the unit is the middle of one long word
    if (buffer_.size() < filled + want) buffer_.resize(std::max(buffer_.size() * 2, filled + want));
    const std::size_t got = read_at(filled, want, next);
    if (got == 0) {  // end of file: the last word ends here
      if (next < unit.end) throw_shrunk(next);
      if (in_word) f(std::string_view(buffer_.data(), filled));
      return;
    }
    fold_ascii_case(buffer_.data() + filled, got);
    filled += got;

    const char* b = buffer_.data();
    if (skipping) {
      while (i < filled && is_word_byte(b[i])) ++i;
      if (i == filled) continue;
      skipping = false;
    }
    for (;;) {
      if (!in_word) {
        while (i < filled && !is_word_byte(b[i])) ++i;
        if (i == filled || base + i >= unit.end) {
          if (base + i >= unit.end) return;
          break;
        }
        word = i;
        in_word = true;
      }
      while (i < filled && is_word_byte(b[i])) ++i;
      if (i == filled) break;  // the word may go on in the next chunk
      f(std::string_view(b + word, i - word));
      in_word = false;
    }
  }
}

}  // namespace gridmr
