// Reads the words of one text work unit, streaming the file in chunks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/core/padded_view.hpp"
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

  // Calls f(word) for each word: a PaddedView (lower-cased, valid during the call).
  template <class F>
  void for_each_word(const std::string& path, const WorkUnit& unit, F&& f);

 private:
  // Reads up to `want` bytes at `offset` into buffer_[at..]; returns bytes read (0 at end of file).
  std::size_t read_at(std::size_t at, std::size_t want, std::uint64_t offset);
  void open(const std::string& path);
  void close();
  bool starts_inside_word(std::uint64_t offset);
  // The word gathered in pending_, padded.
  PaddedView pending_word() {
    const std::size_t size = pending_.size();
    pending_.resize(size + kViewPadding);
    return {std::string_view(pending_.data(), size)};
  }
  // The file ended at `size`, before a unit planned from its earlier size.
  [[noreturn]] void throw_shrunk(std::uint64_t size) const;

  std::size_t chunk_size_;
  std::vector<char> buffer_;            // one chunk of the file, case-folded, then padding
  std::vector<std::uint64_t> mask_;     // bit j: buffer_[j] is a word byte
  std::vector<char> pending_;           // the part of a word read in earlier chunks
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
  if (buffer_.size() < chunk_size_ + kViewPadding) {
    buffer_.resize(chunk_size_ + kViewPadding);
    mask_.resize((chunk_size_ + 63) / 64);
  }

  // Outside a word, inside one (its start at `start` in this chunk, or its
  // first part in pending_), or skipping one that began before the unit.
  enum class State { kOutside, kInWord, kSkipping };
  State state = unit.begin > 0 && starts_inside_word(unit.begin) ? State::kSkipping
                                                                 : State::kOutside;
  std::uint64_t offset = unit.begin;  // file offset of buffer_[0]
  pending_.clear();
  for (;;) {
    if (offset >= unit.end && state != State::kInWord) return;  // next word: next unit's
    // Inside the unit read up to its end; past it (finishing a word) in small steps.
    const std::size_t want =
        offset < unit.end
            ? static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, unit.end - offset))
            : std::min<std::size_t>(chunk_size_, 4096);
    const std::size_t got = read_at(0, want, offset);
    if (got == 0) {  // end of file: the last word ends here
      if (offset < unit.end) throw_shrunk(offset);
      if (state == State::kInWord) f(pending_word());
      return;
    }
    const char* b = buffer_.data();
    fold_and_classify(buffer_.data(), got, mask_.data());

    // Word starts and ends are where the mask changes: w ^ (w << 1 | carry),
    // visited in order with count-trailing-zeros. Starts and ends alternate,
    // so the branch below is taken in turn and predicts well.
    std::size_t start = 0;
    std::uint64_t carry = state == State::kOutside ? 0 : 1;
    const std::size_t blocks = (got + 63) / 64;
    for (std::size_t k = 0; k < blocks; ++k) {
      const std::uint64_t w = mask_[k];
      std::uint64_t events = w ^ ((w << 1) | carry);
      carry = w >> 63;
      if (k + 1 == blocks && got % 64 != 0) events &= (std::uint64_t{1} << (got % 64)) - 1;
      while (events != 0) {
        const std::size_t at = k * 64 + static_cast<std::size_t>(__builtin_ctzll(events));
        events &= events - 1;
        if (state == State::kOutside) {  // a word starts here
          if (offset + at >= unit.end) return;
          start = at;
          state = State::kInWord;
        } else {  // the word ends here
          if (state == State::kInWord) {
            if (pending_.empty()) {
              f(PaddedView{std::string_view(b + start, at - start)});
            } else {
              pending_.insert(pending_.end(), b, b + at);
              f(pending_word());
              pending_.clear();
            }
          }
          state = State::kOutside;
        }
      }
    }
    if (state == State::kInWord) {  // the word goes on in the next chunk
      pending_.insert(pending_.end(), b + start, b + got);
    }
    offset += got;
  }
}

}  // namespace gridmr
