// Compressed input files: zlib for gzip, libzstd for zstd, both as streams.
#include "gridmr/map/decompress.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>

#include "gridmr/errors.hpp"

namespace gridmr {

namespace {

bool ends_with(std::string_view text, std::string_view tail) {
  return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}

// Compressed bytes read per system call.
constexpr std::size_t kInputBytes = std::size_t{256} << 10;

}  // namespace

Compression compression_of(std::string_view path) {
  if (ends_with(path, ".gz")) return Compression::kGzip;
  if (ends_with(path, ".zst")) return Compression::kZstd;
  return Compression::kNone;
}

struct Decompressor::Gzip {
  z_stream stream{};
  bool in_member = false;  // inside a gzip member: its end is still to come
  ~Gzip() { inflateEnd(&stream); }
};

struct Decompressor::Zstd {
  ZSTD_DStream* stream = ZSTD_createDStream();
  std::size_t frame_left = 0;  // ZSTD_decompressStream's hint: 0 once a frame is complete
  ~Zstd() { ZSTD_freeDStream(stream); }
};

Decompressor::Decompressor(int fd, Compression format, std::string path)
    : fd_(fd), format_(format), path_(std::move(path)), input_(kInputBytes) {
  if (format_ == Compression::kGzip) {
    gzip_ = std::make_unique<Gzip>();
    if (inflateInit2(&gzip_->stream, 16 + MAX_WBITS) != Z_OK) fail("zlib cannot start");
  } else {
    zstd_ = std::make_unique<Zstd>();
    if (zstd_->stream == nullptr) fail("libzstd cannot start");
  }
}

Decompressor::~Decompressor() = default;

void Decompressor::fail(const std::string& why) const {
  throw RunError(fmt::format("cannot decompress {} ({}): {}", quote_path(path_),
                             format_ == Compression::kGzip ? "gzip" : "zstd", why));
}

bool Decompressor::fill() {
  if (input_ended_) return false;
  for (;;) {
    const ssize_t got = ::read(fd_, input_.data(), input_.size());
    if (got > 0) {
      input_at_ = 0;
      input_size_ = static_cast<std::size_t>(got);
      return true;
    }
    if (got == 0) {
      input_ended_ = true;
      return false;
    }
    if (errno != EINTR) throw RunError(errno_message("cannot read", path_, errno));
  }
}

std::size_t Decompressor::read(char* out, std::size_t want) {
  const std::size_t got =
      format_ == Compression::kGzip ? read_gzip(out, want) : read_zstd(out, want);
  position_ += got;
  return got;
}

// Member after member (`cat a.gz b.gz` is a gzip file of both texts). A
// decoder may still hold output when its input is used up, so it runs once
// more with no input before the end is believed.
std::size_t Decompressor::read_gzip(char* out, std::size_t want) {
  z_stream& z = gzip_->stream;
  std::size_t done = 0;
  while (done < want && !ended_) {
    const bool have_input = input_at_ < input_size_ || fill();
    z.next_in = input_.data() + input_at_;
    z.avail_in = static_cast<uInt>(input_size_ - input_at_);
    const std::size_t room = std::min<std::size_t>(want - done, 1u << 30);
    z.next_out = reinterpret_cast<Bytef*>(out + done);
    z.avail_out = static_cast<uInt>(room);
    const int status = have_input || gzip_->in_member ? inflate(&z, Z_NO_FLUSH) : Z_BUF_ERROR;
    const std::size_t produced = room - z.avail_out;
    done += produced;
    input_at_ = input_size_ - z.avail_in;
    if (status == Z_STREAM_END) {
      gzip_->in_member = false;
      if (inflateReset(&z) != Z_OK) fail("zlib cannot go on to the next member");
      continue;
    }
    if (status != Z_OK && status != Z_BUF_ERROR) {
      fail(z.msg != nullptr ? z.msg : "not gzip data");
    }
    if (have_input) {
      gzip_->in_member = true;
    } else if (produced == 0) {
      if (gzip_->in_member) fail("the file ends inside compressed data (cut short?)");
      ended_ = true;
    }
  }
  return done;
}

// Frame after frame; ZSTD_decompressStream says when a frame is complete.
std::size_t Decompressor::read_zstd(char* out, std::size_t want) {
  std::size_t done = 0;
  while (done < want && !ended_) {
    const bool have_input = input_at_ < input_size_ || fill();
    ZSTD_inBuffer in{input_.data(), input_size_, input_at_};
    ZSTD_outBuffer output{out, want, done};
    const std::size_t hint = ZSTD_decompressStream(zstd_->stream, &output, &in);
    if (ZSTD_isError(hint)) fail(ZSTD_getErrorName(hint));
    const std::size_t produced = output.pos - done;
    done = output.pos;
    input_at_ = in.pos;
    if (!have_input && produced == 0) {
      if (zstd_->frame_left != 0) fail("the file ends inside compressed data (cut short?)");
      ended_ = true;
    } else {
      zstd_->frame_left = hint;
    }
  }
  return done;
}

}  // namespace gridmr
