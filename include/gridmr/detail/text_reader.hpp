// Reads the records of one text work unit (words, lines, or all its bytes), streaming the file in
// chunks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gridmr/detail/padded_view.hpp"
#include "gridmr/plan.hpp"

namespace gridmr {

class Decompressor;

// A word belongs to the unit where it starts: the reader skips a word that
// began before `begin`, and reads past `end` to finish the last word that
// began before it. So units may cut anywhere and every word is seen once.
// One reader per thread: its buffer is reused from unit to unit. Words are
// scanned in chunks of 64 KiB, which keep the chunk, its edge list and the
// table's hot slots in the core's caches (1 MiB chunks made the word-count map
// 11% slower), but read kReadChunks chunks per system call: a read costs more
// than its copy on a paravirtualised VM. A compressed file (`.gz`, `.zst`,
// `.bz2`, `.xz`) is read as the text it holds. A unit of one, [begin, end) in
// its compressed bytes, reads the text of the streams that start in it (all of
// them, for the whole file). Where a unit's text follows another's, the record
// at that point (whether it began before or starts right there) is the earlier
// unit's: the later one skips its first record, the earlier one reads on past
// its last stream through the first record after it. So no unit needs to
// decode the stream before its own.
class TextReader {
 public:
  static constexpr std::size_t kReadChunks = 4;
  explicit TextReader(std::size_t chunk_size = 1 << 16) : chunk_size_(chunk_size) {}

  // Calls f(word) for each word: a PaddedView (lower-cased, valid during the call).
  template <class F>
  void for_each_word(const std::string& path, const WorkUnit& unit, F&& f) {
    for_each_word(path, unit, f, [&f](const char* b, const std::uint32_t* at, std::size_t pairs) {
      for (std::size_t k = 0; k < pairs; ++k) {
        f(PaddedView{std::string_view(b + at[2 * k], at[2 * k + 1] - at[2 * k])});
      }
    });
  }
  // The same, with the words that lie whole in one chunk given in runs:
  // run(b, at, pairs) for the words b[at[2k], at[2k+1]), k < pairs (padded),
  // and f(word) for the others (a word cut by a chunk's end).
  template <class F, class Run>
  void for_each_word(const std::string& path, const WorkUnit& unit, F&& f, Run&& run);

  // Calls f(line) for each line that starts in the unit: a string_view without
  // its '\n' (a '\r' before it stays), valid during the call. A line belongs to
  // the unit where it starts, so the reader skips the rest of a line that began
  // before `begin` and reads past `end` to finish the last one. A last line
  // without '\n' counts; an empty file has no lines.
  template <class F>
  void for_each_line(const std::string& path, const WorkUnit& unit, F&& f);

  // Where the lines that start in the unit lie in the file, whole: bytes
  // [begin, end), the same lines as for_each_line() gives (empty if none
  // starts in the unit). `newline_missing`: the last of them ends the file
  // without a '\n'.
  struct LineRange {
    std::uint64_t begin = 0, end = 0;
    bool newline_missing = false;
  };
  LineRange line_range(const std::string& path, const WorkUnit& unit);

  // All bytes [begin, end) of the unit, as they are (a compressed file's
  // text); valid until the next call.
  std::string_view read_all(const std::string& path, const WorkUnit& unit);

  // Whether `path` is read decompressed: its name ends in `.gz`, `.zst`,
  // `.bz2` or `.xz`.
  static bool compressed(const std::string& path);
  // Calls f(bytes) for a compressed unit's text, piece by piece (each valid
  // during the call): its whole lines.
  void read_through(const std::string& path, const WorkUnit& unit,
                    const std::function<void(std::string_view)>& f);

 private:
  // The unit's file, open for the scope of one read (closed on any exit).
  struct OpenFile {
    OpenFile(TextReader& reader, const std::string& path, const WorkUnit& unit) : reader(reader) {
      reader.open(path, unit);
    }
    ~OpenFile() { reader.close(); }
    TextReader& reader;
  };

  // Reads up to `want` bytes at `offset` into buffer_[at..]; returns bytes read
  // (0 at end of file). A compressed file's text is read in order only.
  std::size_t read_at(std::size_t at, std::size_t want, std::uint64_t offset);
  // Where the unit's reading starts and stops: its bytes, or for a compressed
  // file its text from 0 to the stop after its last stream (read_at gives 0).
  std::uint64_t reading_begin(const WorkUnit& unit) const { return decompressor_ ? 0 : unit.begin; }
  std::uint64_t reading_end(const WorkUnit& unit) const {
    return decompressor_ ? UINT64_MAX : unit.end;
  }
  // Whether the unit's first word or line is another unit's: it began before
  // the unit; or, in a compressed file, the unit's text does not start the file.
  bool skips_first_word(const WorkUnit& unit);
  bool skips_first_line(const WorkUnit& unit);
  // Goes past a compressed unit's last stream, to read the record that ends
  // or follows its text; false at the end of the file's text.
  bool read_past_end();
  void open(const std::string& path, const WorkUnit& unit);
  void open_compressed(const WorkUnit& unit);
  void close();
  bool starts_inside_word(std::uint64_t offset);
  // Whether byte offset-1 of the open file is a newline.
  bool follows_newline(std::uint64_t offset);
  // Just past the first newline at or after `offset` in the open file, or the
  // end of the file (then `found` is false).
  std::uint64_t past_newline(std::uint64_t offset, bool& found);
  // Folds the case of chunk[0, size) (in buffer_), classifies its bytes and
  // lists where words start and end into events_ (out of line: the kernels are
  // chosen at run time). Returns the number of events.
  std::size_t scan_words(char* chunk, std::size_t size, bool in_word);
  void ensure_buffers();
  // Reads on from `offset` (past the unit) to the end of the word in pending_.
  void finish_pending(std::uint64_t offset);
  // The word gathered in pending_, padded.
  PaddedView pending_word() {
    const std::size_t size = pending_.size();
    pending_.resize(size + kViewPadding);
    return {std::string_view(pending_.data(), size)};
  }
  // The file ended at `size`, before a unit planned from its earlier size.
  [[noreturn]] void throw_shrunk(std::uint64_t size) const;

  std::size_t chunk_size_;
  std::vector<char> buffer_;           // kReadChunks chunks of the file, then padding
  std::vector<std::uint64_t> mask_;    // bit j: byte j of the chunk scanned last is a word byte
  std::vector<std::uint32_t> events_;  // where words start and end (list_word_edges)
  std::vector<char> pending_;          // the part of a word read in earlier chunks
  std::string path_;
  int fd_ = -1;
  std::shared_ptr<Decompressor> decompressor_;  // for a compressed file
  bool skip_first_ = false;                     // the unit's first record is the unit's before
};

template <class F, class Run>
void TextReader::for_each_word(const std::string& path, const WorkUnit& unit, F&& f, Run&& run) {
  const OpenFile file(*this, path, unit);
  ensure_buffers();

  // A word that began before the unit is the previous unit's: skip its rest.
  bool skipping = skips_first_word(unit);
  bool in_word = false;  // a word of ours goes on from the last chunk (its head in pending_)
  pending_.clear();
  std::uint64_t offset = reading_begin(unit);  // file (or text) offset of the next chunk
  std::size_t read = 0, scanned = 0;  // bytes in buffer_, and how many of them were scanned
  const std::uint64_t end = reading_end(unit);
  while (offset < end) {
    if (scanned == read) {
      read = read_at(0,
                     static_cast<std::size_t>(
                         std::min<std::uint64_t>(kReadChunks * chunk_size_, end - offset)),
                     offset);
      if (read == 0) {
        if (decompressor_) break;  // the end of the compressed file's text
        throw_shrunk(offset);
      }
      scanned = 0;
    }
    char* const b = buffer_.data() + scanned;  // the chunk
    const std::size_t got = std::min(chunk_size_, read - scanned);
    scanned += got;
    // Where words start and end, in order; the first is an end when a word
    // comes in from the last chunk.
    const std::size_t events = scan_words(b, got, skipping || in_word);
    const std::uint32_t* at = events_.data();
    std::size_t e = 0;
    if (skipping || in_word) {
      if (events == 0) {  // the whole chunk is inside that word
        if (in_word) pending_.insert(pending_.end(), b, b + got);
        offset += got;
        continue;
      }
      if (in_word) {
        pending_.insert(pending_.end(), b, b + at[0]);
        f(pending_word());
        pending_.clear();
      }
      skipping = in_word = false;
      e = 1;
    }
    const std::size_t pairs = (events - e) / 2;
    run(b, at + e, pairs);
    e += 2 * pairs;
    if (e < events) {  // a word runs on into the next chunk
      pending_.assign(b + at[e], b + got);
      in_word = true;
    }
    offset += got;
  }
  // Read on to finish the unit's last word, or, past a compressed unit's last
  // stream, to take the word that the next unit's text starts with.
  const bool past_stop = decompressor_ && !skipping && read_past_end();
  if (in_word || past_stop) {
    finish_pending(offset);
    if (!pending_.empty()) f(pending_word());
  }
}

template <class F>
void TextReader::for_each_line(const std::string& path, const WorkUnit& unit, F&& f) {
  const OpenFile file(*this, path, unit);
  ensure_buffers();
  // A line that began before the unit is the previous unit's: skip its rest.
  bool skipping = skips_first_line(unit);
  bool in_line = false;  // a line of ours goes on from the last chunk (its head in pending_)
  pending_.clear();
  std::uint64_t offset = reading_begin(unit);  // file (or text) offset of buffer_[0]
  std::uint64_t end = reading_end(unit);
  while (in_line || skipping || offset < end) {
    // Up to kReadChunks chunks inside the unit; one chunk at a time past its
    // end, where only the rest of its last line is wanted.
    const std::size_t want = offset < end
                                 ? static_cast<std::size_t>(std::clamp<std::uint64_t>(
                                       end - offset, chunk_size_, kReadChunks * chunk_size_))
                                 : chunk_size_;
    const std::size_t got = read_at(0, want, offset);
    if (got == 0) {
      // A compressed unit's streams are read: read on through the next unit's
      // first line, which is this unit's.
      if (decompressor_ && !skipping && read_past_end()) {
        end = offset;
        in_line = true;
        continue;
      }
      if (offset < end && !decompressor_) throw_shrunk(offset);
      break;  // the end of the file ends the last line
    }
    const char* b = buffer_.data();
    std::size_t i = 0;
    if (skipping) {
      const void* newline = std::memchr(b, '\n', got);
      if (newline == nullptr) {
        offset += got;
        continue;
      }
      i = static_cast<const char*>(newline) - b + 1;
      skipping = false;
    }
    while (i < got) {
      if (!in_line && offset + i >= end) break;  // the next line is the next unit's
      const void* newline = std::memchr(b + i, '\n', got - i);
      if (newline == nullptr) {  // the line runs on into the next chunk
        pending_.insert(pending_.end(), b + i, b + got);
        in_line = true;
        i = got;
        break;
      }
      const std::size_t stop = static_cast<const char*>(newline) - b;
      if (in_line) {
        pending_.insert(pending_.end(), b + i, b + stop);
        f(std::string_view(pending_.data(), pending_.size()));
        pending_.clear();
        in_line = false;
      } else {
        f(std::string_view(b + i, stop - i));
      }
      i = stop + 1;
    }
    offset += got;
    if (!in_line && offset >= end) break;
  }
  // (A compressed unit's text followed by nothing leaves no line to finish.)
  if (in_line && !pending_.empty()) f(std::string_view(pending_.data(), pending_.size()));
}

}  // namespace gridmr
