// Compressed input files as streams: ISA-L for gzip, libzstd, libbz2 and liblzma,
// behind one loop (Decompressor::read) and a small decoder per format.
#include "gridmr/map/decompress.hpp"

#include <bzlib.h>
#include <fmt/format.h>
#include <isa-l/igzip_lib.h>
#include <lzma.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "gridmr/core/whole_io.hpp"
#include "gridmr/errors.hpp"
#include "gridmr/runtime/spare_cores.hpp"

namespace gridmr {

namespace {

// Compressed bytes read per system call.
constexpr std::size_t kInputBytes = std::size_t{256} << 10;
// Text decoded ahead: blocks of the size a TextReader reads at once, enough of
// them that neither side waits on the other's every block.
constexpr std::size_t kAheadBlockBytes = std::size_t{256} << 10;
constexpr std::size_t kAheadBlocks = 4;
}  // namespace

Compression compression_of(std::string_view path) {
  if (path.ends_with(".gz")) return Compression::kGzip;
  if (path.ends_with(".zst")) return Compression::kZstd;
  if (path.ends_with(".bz2")) return Compression::kBzip2;
  if (path.ends_with(".xz")) return Compression::kXz;
  return Compression::kNone;
}

// Decodes what it is given of `in` into `out` (both advance). Called with
// input_ended once the file has no more input: then a decoder either gives
// more text, says the data ended where it may (`done`), or throws Damaged,
// so the loop around it always moves on. Every format holds streams one
// after another, read as one text.
class Decompressor::Codec {
 public:
  struct Step {
    std::size_t produced = 0;
    bool done = false;
    bool stream_ended = false;  // a stream (member, frame) ended with this step's input
  };
  virtual ~Codec() = default;
  virtual Step decode(const unsigned char*& in, std::size_t& in_left, char* out, std::size_t room,
                      bool input_ended) = 0;
};

namespace {

// ISA-L and libbz2 take 32-bit sizes per call.
constexpr std::size_t kMaxCall = std::size_t{1} << 30;

// gzip through ISA-L's inflate (runtime-dispatched SIMD; 2.8x zlib's speed on
// text: bench/compressed.sh), which checks each member's CRC and length.
class GzipCodec final : public Decompressor::Codec {
 public:
  GzipCodec() : state_(std::make_unique<inflate_state>()) { start(); }

  Step decode(const unsigned char*& in, std::size_t& in_left, char* out, std::size_t room,
              bool input_ended) override {
    if (input_ended && !in_member_) return {0, true};  // the last member ended with the file
    if (!in_member_ && in_left >= 2 && (in[0] != 0x1f || in[1] != 0x8b)) {
      throw Damaged{member_ended_ ? "data after the last member is not gzip" : "not gzip data"};
    }
    room = std::min(room, kMaxCall);
    state_->next_in = const_cast<std::uint8_t*>(in);
    state_->avail_in = static_cast<std::uint32_t>(std::min(in_left, kMaxCall));
    state_->next_out = reinterpret_cast<std::uint8_t*>(out);
    state_->avail_out = static_cast<std::uint32_t>(room);
    const std::uint32_t given = state_->avail_in;
    const int status = isal_inflate(state_.get());
    const std::size_t used = given - state_->avail_in;
    in += used, in_left -= used;
    const std::size_t produced = room - state_->avail_out;
    if (used > 0) in_member_ = true;
    switch (status) {
      case ISAL_DECOMP_OK:
      case ISAL_END_INPUT:
      case ISAL_OUT_OVERFLOW:
        break;
      case ISAL_INCORRECT_CHECKSUM:
        throw Damaged{"damaged data (a failed CRC or length check)"};
      case ISAL_INVALID_WRAPPER:
        throw Damaged{"not gzip data (a bad header)"};
      case ISAL_UNSUPPORTED_METHOD:
        throw Damaged{"not deflate data (an unknown method)"};
      default:
        throw Damaged{"damaged data (invalid deflate data)"};
    }
    if (state_->block_state == ISAL_BLOCK_FINISH) {  // the next member, if any, starts afresh
      start();
      member_ended_ = true;
      return {produced, false, true};
    }
    if (input_ended && produced == 0) throw Damaged{kCutShort};
    return {produced, false};
  }

 private:
  void start() {
    isal_inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;
    in_member_ = false;
  }
  std::unique_ptr<inflate_state> state_;  // about 90 KiB: tables and history
  bool in_member_ = false;                // a member has begun and not ended
  bool member_ended_ = false;             // one has ended before
};

class ZstdCodec final : public Decompressor::Codec {
 public:
  ZstdCodec() : stream_(ZSTD_createDStream()) {
    if (stream_ == nullptr) throw Damaged{"libzstd cannot start"};
  }
  ~ZstdCodec() override { ZSTD_freeDStream(stream_); }

  Step decode(const unsigned char*& in, std::size_t& in_left, char* out, std::size_t room,
              bool input_ended) override {
    // 0 from ZSTD_decompressStream: a frame is decoded and flushed whole.
    if (input_ended && frame_left_ == 0) return {0, true};
    ZSTD_inBuffer input{in, in_left, 0};
    ZSTD_outBuffer output{out, room, 0};
    const std::size_t hint = ZSTD_decompressStream(stream_, &output, &input);
    if (ZSTD_isError(hint)) throw Damaged{ZSTD_getErrorName(hint)};
    in += input.pos, in_left -= input.pos;
    if (input_ended && output.pos == 0) throw Damaged{kCutShort};
    frame_left_ = hint;
    return {output.pos, false, hint == 0};
  }

 private:
  ZSTD_DStream* stream_;
  std::size_t frame_left_ = 0;
};

// Memory libbz2 frees at the end of a stream, kept for the next stream. Each
// stream allocates its state and a table of 4 bytes per byte of its block
// size (3.6 MB at -9); a file of many streams (pbzip2 writes one per 900 kB
// of text) would otherwise map and fault in a fresh table each time, which
// cost 9% of a split .bz2 unit's time on a paravirtualised VM.
class Bzip2Blocks {
 public:
  Bzip2Blocks() = default;
  Bzip2Blocks(const Bzip2Blocks&) = delete;
  Bzip2Blocks& operator=(const Bzip2Blocks&) = delete;
  ~Bzip2Blocks() {
    for (Block* block : free_) std::free(block);
  }
  static void* allocate(void* self, int items, int size) {
    auto& blocks = *static_cast<Bzip2Blocks*>(self);
    const std::size_t bytes = static_cast<std::size_t>(items) * static_cast<std::size_t>(size);
    for (auto it = blocks.free_.begin(); it != blocks.free_.end(); ++it) {
      if ((*it)->bytes == bytes) {
        Block* block = *it;
        blocks.free_.erase(it);
        return block + 1;
      }
    }
    auto* block = static_cast<Block*>(std::malloc(sizeof(Block) + bytes));
    if (block == nullptr) return nullptr;
    block->bytes = bytes;
    return block + 1;
  }
  static void release(void* self, void* memory) {
    if (memory == nullptr) return;
    auto& blocks = *static_cast<Bzip2Blocks*>(self);
    Block* block = static_cast<Block*>(memory) - 1;
    if (blocks.free_.size() < kKept) {
      blocks.free_.push_back(block);
    } else {
      std::free(block);
    }
  }

 private:
  struct alignas(16) Block {
    std::size_t bytes;  // what follows the header
  };
  static constexpr std::size_t kKept = 4;  // a stream's state and table, and spares
  std::vector<Block*> free_;
};

class Bzip2Codec final : public Decompressor::Codec {
 public:
  Bzip2Codec() { start(); }
  ~Bzip2Codec() override { BZ2_bzDecompressEnd(&bz_); }

  Step decode(const unsigned char*& in, std::size_t& in_left, char* out, std::size_t room,
              bool input_ended) override {
    if (input_ended && !in_stream_) return {0, true};
    room = std::min(room, kMaxCall);
    bz_.next_in = reinterpret_cast<char*>(const_cast<unsigned char*>(in));
    bz_.avail_in = static_cast<unsigned>(std::min(in_left, kMaxCall));
    bz_.next_out = out;
    bz_.avail_out = static_cast<unsigned>(room);
    const unsigned given = bz_.avail_in;
    const int status = BZ2_bzDecompress(&bz_);
    const std::size_t used = given - bz_.avail_in;
    in += used, in_left -= used;
    const std::size_t produced = room - bz_.avail_out;
    if (used > 0) in_stream_ = true;
    if (status == BZ_STREAM_END) {  // the next stream, if any, starts afresh
      BZ2_bzDecompressEnd(&bz_);
      start();
      return {produced, false, true};
    } else if (status == BZ_DATA_ERROR_MAGIC) {
      throw Damaged{"not bzip2 data"};
    } else if (status == BZ_DATA_ERROR) {
      throw Damaged{"damaged data (a failed check)"};
    } else if (status != BZ_OK) {
      throw Damaged{fmt::format("libbz2 error {}", status)};
    } else if (input_ended && produced == 0) {
      throw Damaged{kCutShort};
    }
    return {produced, false};
  }

 private:
  void start() {
    bz_ = bz_stream{};
    bz_.bzalloc = &Bzip2Blocks::allocate;
    bz_.bzfree = &Bzip2Blocks::release;
    bz_.opaque = &blocks_;
    in_stream_ = false;
    if (BZ2_bzDecompressInit(&bz_, 0, 0) != BZ_OK) throw Damaged{"libbz2 cannot start"};
  }
  Bzip2Blocks blocks_;  // freed after ~Bzip2Codec has ended bz_
  bz_stream bz_{};
  bool in_stream_ = false;
};

// xz through liblzma: a file's streams as one (LZMA_CONCATENATED, which also
// skips the padding between streams), or, from a StreamSource, one stream at
// a time, each ended on its own.
class XzCodec final : public Decompressor::Codec {
 public:
  explicit XzCodec(bool one_by_one) : one_by_one_(one_by_one) { start(); }
  ~XzCodec() override { lzma_end(&xz_); }

  Step decode(const unsigned char*& in, std::size_t& in_left, char* out, std::size_t room,
              bool input_ended) override {
    if (input_ended && !started_) return {0, true};  // no text, or no more streams
    xz_.next_in = in;
    xz_.avail_in = in_left;
    xz_.next_out = reinterpret_cast<std::uint8_t*>(out);
    xz_.avail_out = room;
    // LZMA_FINISH tells the decoder of concatenated streams that no more follow.
    const lzma_ret status = lzma_code(&xz_, input_ended ? LZMA_FINISH : LZMA_RUN);
    const std::size_t used = in_left - xz_.avail_in;
    in += used, in_left -= used;
    const std::size_t produced = room - xz_.avail_out;
    if (used > 0) started_ = true;
    switch (status) {
      case LZMA_STREAM_END:
        if (!one_by_one_) return {produced, true};
        start();
        return {produced, false, true};
      case LZMA_OK:
        if (input_ended && produced == 0) throw Damaged{kCutShort};
        return {produced, false};
      case LZMA_BUF_ERROR:
        throw Damaged{kCutShort};
      case LZMA_FORMAT_ERROR:
        throw Damaged{"not xz data"};
      case LZMA_DATA_ERROR:
        throw Damaged{"damaged data"};
      default:
        throw Damaged{fmt::format("liblzma error {}", static_cast<int>(status))};
    }
  }

 private:
  void start() {
    // Called again on the same stream, liblzma keeps what memory it can.
    if (lzma_stream_decoder(&xz_, UINT64_MAX, one_by_one_ ? 0 : LZMA_CONCATENATED) != LZMA_OK) {
      throw Damaged{"liblzma cannot start"};
    }
    started_ = false;
  }
  bool one_by_one_;
  lzma_stream xz_ = LZMA_STREAM_INIT;
  bool started_ = false;
};

const char* format_name(Compression format) {
  switch (format) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kBzip2:
      return "bzip2";
    case Compression::kXz:
      return "xz";
    case Compression::kNone:
      break;
  }
  return "plain";
}

// With one_by_one, a decoder for streams given one at a time (StreamSource).
std::unique_ptr<Decompressor::Codec> codec_for(Compression format, bool one_by_one) {
  switch (format) {
    case Compression::kGzip:
      return std::make_unique<GzipCodec>();
    case Compression::kZstd:
      return std::make_unique<ZstdCodec>();
    case Compression::kBzip2:
      return std::make_unique<Bzip2Codec>();
    case Compression::kXz:
      return std::make_unique<XzCodec>(one_by_one);
    case Compression::kNone:
      break;
  }
  throw Damaged{"not a compression format"};
}

}  // namespace

Decompressor::Decompressor(Compression format, std::string path,
                           std::unique_ptr<StreamSource> source)
    : fd_(-1),
      format_(format),
      path_(std::move(path)),
      source_(std::move(source)),
      input_offset_(0),
      input_end_(0) {
  start_codec();
}

Decompressor::Decompressor(int fd, Compression format, std::string path, std::uint64_t begin,
                           std::uint64_t end)
    : fd_(fd),
      format_(format),
      path_(std::move(path)),
      input_(kInputBytes),
      input_offset_(begin),
      input_end_(end) {
  start_codec();
}

void Decompressor::start_codec() {
  try {
    codec_ = codec_for(format_, source_ != nullptr);
  } catch (const Damaged& damaged) {
    fail(damaged.why);
  }
}

void Decompressor::fail(const std::string& why) const {
  throw RunError(fmt::format("cannot decompress {} ({}): {}", quote_path(path_),
                             format_name(format_), why));
}

Decompressor::~Decompressor() = default;

void Decompressor::stop_at(std::uint64_t offset, std::function<bool(std::uint64_t)> may_stop) {
  stop_ = offset;
  may_stop_ = std::move(may_stop);
}

bool Decompressor::pass_stop() {
  if (!stopped_) return false;
  stopped_ = false;
  stop_ = UINT64_MAX;
  return true;
}

bool Decompressor::fill() {
  if (input_ended_) return false;
  if (source_) {
    input_ended_ = !source_->next(input_, source_next_);
    input_at_ = 0;
    input_size_ = input_ended_ ? 0 : input_.size();
    return !input_ended_;
  }
  const std::uint64_t offset = input_offset_ + input_size_;
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(input_.size(), input_end_ - offset));
  const ssize_t got = want == 0 ? 0 : pread_fully(fd_, input_.data(), want, offset);
  if (got < 0) throw RunError(errno_message("cannot read", path_, errno));
  if (got == 0) {
    input_ended_ = true;
    return false;
  }
  input_offset_ = offset;
  input_at_ = 0;
  input_size_ = static_cast<std::size_t>(got);
  return true;
}

// Decodes on a thread of its own, on a core borrowed from SpareCores, into a
// ring of blocks, which read() takes in order. The thread alone uses the
// Decompressor's decoding state until it has filled its last block: one cut
// short by the text's end or stop, or an error (given to read() once the
// blocks before it are taken). Then it ends, and the Decompressor, once it
// has joined it, decodes by itself again.
class Decompressor::Ahead {
 public:
  explicit Ahead(Decompressor& owner) : blocks_(kAheadBlocks) {
    for (Block& block : blocks_) block.bytes.resize(kAheadBlockBytes);
    thread_ = std::thread([this, &owner] { fill(owner); });
  }
  ~Ahead() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
    thread_.join();
    SpareCores::give_back();
  }
  Ahead(const Ahead&) = delete;
  Ahead& operator=(const Ahead&) = delete;

  // Up to `want` bytes into `out`; `last` once the thread's last block is taken
  // (it has ended or is ending). Rethrows the thread's error in its place.
  std::size_t take(char* out, std::size_t want, bool& last) {
    std::size_t done = 0;
    while (done < want) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return taken_ < filled_; });
      }
      const Block& block = blocks_[taken_ % blocks_.size()];
      const std::size_t n = std::min(block.size - at_, want - done);
      std::memcpy(out + done, block.bytes.data() + at_, n);
      at_ += n;
      done += n;
      if (at_ < block.size) break;
      if (block.error) std::rethrow_exception(block.error);
      if (block.last) {
        last = true;
        break;
      }
      at_ = 0;
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        ++taken_;
      }
      changed_.notify_all();
    }
    return done;
  }

 private:
  struct Block {
    std::vector<char> bytes;
    std::size_t size = 0;
    bool last = false;
    std::exception_ptr error;
  };

  void fill(Decompressor& owner) {
    SpareCores::run_on_any_core();
    for (std::uint64_t k = 0;; ++k) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return cancelled_ || filled_ - taken_ < blocks_.size(); });
        if (cancelled_) return;
      }
      Block& block = blocks_[k % blocks_.size()];
      try {
        block.size = owner.decode(block.bytes.data(), block.bytes.size());
        block.last = block.size < block.bytes.size();
      } catch (...) {
        block.size = 0;
        block.last = true;
        block.error = std::current_exception();
      }
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        ++filled_;
      }
      changed_.notify_all();
      if (block.last) return;
    }
  }

  std::vector<Block> blocks_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t filled_ = 0, taken_ = 0;  // blocks filled and taken so far
  std::size_t at_ = 0;                    // bytes taken of the block being taken
  bool cancelled_ = false;
  std::thread thread_;  // last: starts once the rest is made
};

std::size_t Decompressor::read(char* out, std::size_t want) {
  if (!ahead_ && position_ >= ahead_after_ && SpareCores::borrow()) {
    try {
      ahead_ = std::make_unique<Ahead>(*this);
    } catch (const std::system_error&) {  // no thread to be had: decode here
      SpareCores::give_back();
      ahead_after_ = UINT64_MAX;
    }
    // Tests: whether a core was found (another rank's, where a rank has one thread).
    static const bool note = std::getenv("GRIDMR_DEBUG_NOTE_DECODE_AHEAD") != nullptr;
    if (note && ahead_) {
      std::fprintf(stderr, "gridmr: debug: decoding '%s' ahead on a spare core\n", path_.c_str());
    }
  }
  std::size_t done;
  if (ahead_) {
    bool last = false;
    done = ahead_->take(out, want, last);
    if (last) {
      ahead_.reset();             // joined: the state is this thread's again
      ahead_after_ = UINT64_MAX;  // once: past a stop, a record or two is read
    }
  } else {
    done = decode(out, want);
  }
  position_ += done;
  return done;
}

std::size_t Decompressor::decode(char* out, std::size_t want) {
  std::size_t done = 0;
  try {
    while (done < want && !ended_ && !stopped_) {
      const bool input_ended = input_at_ == input_size_ && !fill();
      const unsigned char* in = input_.data() + input_at_;
      std::size_t in_left = input_size_ - input_at_;
      const Codec::Step step = codec_->decode(in, in_left, out + done, want - done, input_ended);
      input_at_ = input_size_ - in_left;
      done += step.produced;
      ended_ = step.done;
      if (step.stream_ended) {
        // A source's stream must end with its bytes (its next_at is the next one's).
        if (source_ && input_at_ != input_size_) throw Damaged{"a block holds data after its end"};
        // Where the next stream starts.
        const std::uint64_t at = source_ ? source_next_ : input_offset_ + input_at_;
        stopped_ = at >= stop_ && may_stop_(at);
      }
    }
  } catch (const Damaged& damaged) {
    fail(damaged.why);
  }
  return done;
}

}  // namespace gridmr
