// SPDY/3.1 framing, header compression and the server-side session.
//
// Flow control: spdystream (kubectl's side) ignores WINDOW_UPDATE and never
// sends one, so a sender that waited for the peer's window would stall after
// 64 KiB. The session therefore tracks the peer's windows from the start but
// only waits on them once the peer has shown it does flow control (it sent a
// WINDOW_UPDATE). Receiving, it announces consumed bytes with WINDOW_UPDATE and
// bounds what it queues per stream, so a peer without flow control is slowed
// by the reader waiting rather than by unbounded memory.
#include "common/spdy.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace k1s::spdy {

namespace {

// The SPDY/3 header compression dictionary (spec section 2.6.10.1): 1423 bytes.
const char kDictionary[] =
    "\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\x00\x00\x00\x03put"
    "\x00\x00\x00\x06""delete\x00\x00\x00\x05trace\x00\x00\x00\x06""accept\x00\x00\x00\x0e""accept-charset"
    "\x00\x00\x00\x0f""accept-encoding\x00\x00\x00\x0f""accept-language\x00\x00\x00\x0d""accept-ranges"
    "\x00\x00\x00\x03""age\x00\x00\x00\x05""allow\x00\x00\x00\x0d""authorization\x00\x00\x00\x0d""cache-control"
    "\x00\x00\x00\x0a""connection\x00\x00\x00\x0c""content-base\x00\x00\x00\x10""content-encoding"
    "\x00\x00\x00\x10""content-language\x00\x00\x00\x0e""content-length\x00\x00\x00\x10""content-location"
    "\x00\x00\x00\x0b""content-md5\x00\x00\x00\x0d""content-range\x00\x00\x00\x0c""content-type"
    "\x00\x00\x00\x04""date\x00\x00\x00\x04""etag\x00\x00\x00\x06""expect\x00\x00\x00\x07""expires"
    "\x00\x00\x00\x04""from\x00\x00\x00\x04host\x00\x00\x00\x08if-match\x00\x00\x00\x11if-modified-since"
    "\x00\x00\x00\x0dif-none-match\x00\x00\x00\x08if-range\x00\x00\x00\x13if-unmodified-since"
    "\x00\x00\x00\x0dlast-modified\x00\x00\x00\x08location\x00\x00\x00\x0cmax-forwards"
    "\x00\x00\x00\x06pragma\x00\x00\x00\x12proxy-authenticate\x00\x00\x00\x13proxy-authorization"
    "\x00\x00\x00\x05range\x00\x00\x00\x07referer\x00\x00\x00\x0bretry-after\x00\x00\x00\x06server"
    "\x00\x00\x00\x02te\x00\x00\x00\x07trailer\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade"
    "\x00\x00\x00\x0auser-agent\x00\x00\x00\x04vary\x00\x00\x00\x03via\x00\x00\x00\x07warning"
    "\x00\x00\x00\x10www-authenticate\x00\x00\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06status"
    "\x00\x00\x00\x06""200 OK\x00\x00\x00\x07version\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url"
    "\x00\x00\x00\x06public\x00\x00\x00\x0aset-cookie\x00\x00\x00\x0akeep-alive\x00\x00\x00\x06origin"
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
constexpr size_t kDictionarySize = sizeof kDictionary - 1;
static_assert(kDictionarySize == 1423, "SPDY/3 dictionary");

// Outgoing DATA frame payload: large frames mean fewer frames (locks, copies, the
// peer's per-frame work) for a port-forward stream; TLS records split them anyway. As large
// as a port-forward's pod read (kubelet/stream_session.cpp), so one read is one frame.
constexpr size_t kMaxChunk = 1024 * 1024;

void put32(std::string& s, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  s.append(b, 4);
}
uint32_t get32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) << 24 | uint32_t(u[1]) << 16 | uint32_t(u[2]) << 8 | u[3];
}
uint32_t get24(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) << 16 | uint32_t(u[1]) << 8 | u[2];
}

}  // namespace

std::string headerValue(const Headers& h, const std::string& lowerName) {
  for (auto& [k, v] : h)
    if (k == lowerName) return v.substr(0, v.find('\0'));
  return "";
}

std::string encodeHeaderBlock(const Headers& h) {
  std::string out;
  put32(out, uint32_t(h.size()));
  for (auto& [k, v] : h) {
    put32(out, uint32_t(k.size()));
    out += k;
    put32(out, uint32_t(v.size()));
    out += v;
  }
  return out;
}

Headers parseHeaderBlock(const std::string& b) {
  size_t pos = 0;
  auto need = [&](size_t n) {
    if (b.size() - pos < n) throw ProtocolError("spdy: truncated header block");
  };
  need(4);
  uint32_t count = get32(b.data());
  pos = 4;
  // Each pair takes at least 8 bytes: a count larger than that is a lie.
  if (count > (b.size() - pos) / 8) throw ProtocolError("spdy: header block claims " + std::to_string(count) + " headers");
  Headers h;
  h.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    need(4);
    uint32_t nl = get32(b.data() + pos);
    pos += 4;
    need(nl);
    std::string name = b.substr(pos, nl);
    pos += nl;
    need(4);
    uint32_t vl = get32(b.data() + pos);
    pos += 4;
    need(vl);
    std::string value = b.substr(pos, vl);
    pos += vl;
    if (name.empty()) throw ProtocolError("spdy: empty header name");
    for (char c : name)
      if (c >= 'A' && c <= 'Z') throw ProtocolError("spdy: header name not lower-case: " + name);
    h.emplace_back(std::move(name), std::move(value));
  }
  if (pos != b.size()) throw ProtocolError("spdy: trailing bytes after header block");
  return h;
}

// ---- compression -----------------------------------------------------------

HeaderCompressor::HeaderCompressor() : z_(new z_stream{}) {
  if (deflateInit(z_, Z_DEFAULT_COMPRESSION) != Z_OK) throw std::runtime_error("spdy: deflateInit failed");
  deflateSetDictionary(z_, reinterpret_cast<const Bytef*>(kDictionary), kDictionarySize);
}

HeaderCompressor::~HeaderCompressor() {
  deflateEnd(z_);
  delete z_;
}

std::string HeaderCompressor::compress(const Headers& h) {
  std::string in = encodeHeaderBlock(h), out;
  z_->next_in = reinterpret_cast<Bytef*>(in.data());
  z_->avail_in = uInt(in.size());
  char buf[4096];
  do {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    if (deflate(z_, Z_SYNC_FLUSH) == Z_STREAM_ERROR) throw std::runtime_error("spdy: deflate failed");
    out.append(buf, sizeof buf - z_->avail_out);
  } while (z_->avail_out == 0);
  return out;
}

HeaderDecompressor::HeaderDecompressor(size_t maxBlock) : z_(new z_stream{}), maxBlock_(maxBlock) {
  if (inflateInit(z_) != Z_OK) throw std::runtime_error("spdy: inflateInit failed");
}

HeaderDecompressor::~HeaderDecompressor() {
  inflateEnd(z_);
  delete z_;
}

Headers HeaderDecompressor::decompress(const char* data, size_t n) {
  if (broken_) throw ProtocolError("spdy: header decompression failed earlier");
  std::string out;
  z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z_->avail_in = uInt(n);
  char buf[4096];
  while (z_->avail_in > 0) {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    int rc = inflate(z_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      if (inflateSetDictionary(z_, reinterpret_cast<const Bytef*>(kDictionary), kDictionarySize) != Z_OK) {
        broken_ = true;
        throw ProtocolError("spdy: header block uses an unknown dictionary");
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && z_->avail_out == sizeof buf) break;  // no progress possible: input exhausted
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      broken_ = true;
      throw ProtocolError(std::string("spdy: corrupt compressed header block (") + (z_->msg ? z_->msg : "zlib") + ")");
    }
    out.append(buf, sizeof buf - z_->avail_out);
    if (out.size() > maxBlock_) {
      broken_ = true;
      throw ProtocolError("spdy: header block larger than " + std::to_string(maxBlock_) + " bytes");
    }
  }
  // Flush what inflate still holds for this block.
  for (;;) {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    int rc = inflate(z_, Z_SYNC_FLUSH);
    size_t got = sizeof buf - z_->avail_out;
    out.append(buf, got);
    if (out.size() > maxBlock_) {
      broken_ = true;
      throw ProtocolError("spdy: header block larger than " + std::to_string(maxBlock_) + " bytes");
    }
    if (got == 0 || (rc != Z_OK && rc != Z_BUF_ERROR)) break;
  }
  return parseHeaderBlock(out);
}

// ---- encoding --------------------------------------------------------------

std::string FrameEncoder::control(FrameType t, uint8_t flags, const std::string& body) {
  std::string f;
  f.reserve(8 + body.size());
  put32(f, 0x80000000u | uint32_t(kVersion) << 16 | uint16_t(t));
  put32(f, uint32_t(flags) << 24 | uint32_t(body.size()));
  f += body;
  return f;
}

std::string FrameEncoder::synStream(uint32_t id, uint32_t associated, uint8_t priority, const Headers& h,
                                    uint8_t flags) {
  std::string b;
  put32(b, id & 0x7fffffff);
  put32(b, associated & 0x7fffffff);
  b += char((priority & 7) << 5);
  b += char(0);  // slot
  b += compressor_.compress(h);
  return control(FrameType::SynStream, flags, b);
}

std::string FrameEncoder::synReply(uint32_t id, const Headers& h, uint8_t flags) {
  std::string b;
  put32(b, id & 0x7fffffff);
  b += compressor_.compress(h);
  return control(FrameType::SynReply, flags, b);
}

std::string FrameEncoder::headers(uint32_t id, const Headers& h, uint8_t flags) {
  std::string b;
  put32(b, id & 0x7fffffff);
  b += compressor_.compress(h);
  return control(FrameType::Headers, flags, b);
}

std::string FrameEncoder::rstStream(uint32_t id, uint32_t status) {
  std::string b;
  put32(b, id & 0x7fffffff);
  put32(b, status);
  return FrameEncoder().control(FrameType::RstStream, 0, b);
}

std::string FrameEncoder::settings(const std::vector<std::pair<uint32_t, uint32_t>>& s) {
  std::string b;
  put32(b, uint32_t(s.size()));
  for (auto& [id, v] : s) {
    put32(b, id & 0xffffff);  // flags 0
    put32(b, v);
  }
  return FrameEncoder().control(FrameType::Settings, 0, b);
}

std::string FrameEncoder::ping(uint32_t id) {
  std::string b;
  put32(b, id);
  return FrameEncoder().control(FrameType::Ping, 0, b);
}

std::string FrameEncoder::goAway(uint32_t lastGood, uint32_t status) {
  std::string b;
  put32(b, lastGood & 0x7fffffff);
  put32(b, status);
  return FrameEncoder().control(FrameType::GoAway, 0, b);
}

std::string FrameEncoder::windowUpdate(uint32_t id, uint32_t delta) {
  std::string b;
  put32(b, id & 0x7fffffff);
  put32(b, delta & 0x7fffffff);
  return FrameEncoder().control(FrameType::WindowUpdate, 0, b);
}

void FrameEncoder::dataHeader(char out[8], uint32_t id, size_t n, uint8_t flags) {
  id &= 0x7fffffff;
  out[0] = char(id >> 24), out[1] = char(id >> 16), out[2] = char(id >> 8), out[3] = char(id);
  out[4] = char(flags), out[5] = char(n >> 16), out[6] = char(n >> 8), out[7] = char(n);
}

std::string FrameEncoder::data(uint32_t id, const void* p, size_t n, uint8_t flags) {
  if (n > kMaxDataPayload) throw std::invalid_argument("spdy: DATA payload too large");
  std::string f(8 + n, '\0');
  dataHeader(f.data(), id, n, flags);
  if (n) memcpy(f.data() + 8, p, n);
  return f;
}

// ---- decoding --------------------------------------------------------------

void FrameDecoder::feed(const char* data, size_t n) {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {  // drop consumed bytes now and then, not per frame
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, n);
}

bool FrameDecoder::next(Frame& f) {
  if (buf_.size() - pos_ < 8) return false;
  const char* h = buf_.data() + pos_;
  uint32_t w0 = get32(h);
  uint8_t flags = uint8_t(h[4]);
  size_t len = get24(h + 5);
  bool control = w0 & 0x80000000u;
  // Check what the 8-byte head already tells before waiting for a body of a bogus length.
  if (control && ((w0 >> 16) & 0x7fff) != kVersion)
    throw ProtocolError("spdy: unsupported version " + std::to_string((w0 >> 16) & 0x7fff));
  if (!control && (w0 & 0x7fffffff) == 0) throw ProtocolError("spdy: DATA frame for stream 0");
  if (!control && (flags & ~kFlagFin)) throw ProtocolError("spdy: DATA frame with unknown flags");
  if (control && len > maxControl_)
    throw ProtocolError("spdy: control frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                        std::to_string(maxControl_));
  if (!control && len > maxData_)
    throw ProtocolError("spdy: DATA frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                        std::to_string(maxData_));
  if (buf_.size() - pos_ < 8 + len) return false;
  const char* p = h + 8;
  f = Frame{};
  f.flags = flags;
  if (control) {
    parseControl(uint16_t((w0 >> 16) & 0x7fff), uint16_t(w0 & 0xffff), flags, p, len, f);
  } else {
    f.type = FrameType::Data;
    f.streamId = w0 & 0x7fffffff;
    f.data.assign(p, len);
  }
  pos_ += 8 + len;
  if (pos_ == buf_.size()) buf_.clear(), pos_ = 0;
  return true;
}

void FrameDecoder::parseControl(uint16_t version, uint16_t type, uint8_t flags, const char* p, size_t n, Frame& f) {
  if (version != kVersion) throw ProtocolError("spdy: unsupported version " + std::to_string(version));
  auto exact = [&](size_t want, const char* what) {
    if (n != want) throw ProtocolError(std::string("spdy: ") + what + " frame has length " + std::to_string(n));
  };
  auto atLeast = [&](size_t want, const char* what) {
    if (n < want) throw ProtocolError(std::string("spdy: ") + what + " frame too short");
  };
  auto streamOf = [&](const char* what) {
    uint32_t id = get32(p) & 0x7fffffff;
    if (id == 0) throw ProtocolError(std::string("spdy: ") + what + " for stream 0");
    return id;
  };
  f.type = FrameType(type);
  switch (FrameType(type)) {
    case FrameType::SynStream:
      atLeast(10, "SYN_STREAM");
      f.streamId = streamOf("SYN_STREAM");
      f.associatedId = get32(p + 4) & 0x7fffffff;
      f.priority = uint8_t(p[8]) >> 5;
      f.headers = decompressor_.decompress(p + 10, n - 10);
      break;
    case FrameType::SynReply:
    case FrameType::Headers:
      atLeast(4, type == 2 ? "SYN_REPLY" : "HEADERS");
      f.streamId = streamOf(type == 2 ? "SYN_REPLY" : "HEADERS");
      f.headers = decompressor_.decompress(p + 4, n - 4);
      break;
    case FrameType::RstStream:
      exact(8, "RST_STREAM");
      f.streamId = streamOf("RST_STREAM");
      f.status = get32(p + 4);
      break;
    case FrameType::Settings: {
      atLeast(4, "SETTINGS");
      uint32_t count = get32(p);
      if (count > (n - 4) / 8 || n != 4 + size_t(count) * 8)
        throw ProtocolError("spdy: SETTINGS frame length does not match its " + std::to_string(count) + " entries");
      for (uint32_t i = 0; i < count; ++i)
        f.settings.emplace_back(get32(p + 4 + i * 8) & 0xffffff, get32(p + 8 + i * 8));
      break;
    }
    case FrameType::Ping:
      exact(4, "PING");
      f.pingId = get32(p);
      break;
    case FrameType::GoAway:
      exact(8, "GOAWAY");
      f.lastGoodStreamId = get32(p) & 0x7fffffff;
      f.status = get32(p + 4);
      break;
    case FrameType::WindowUpdate:
      exact(8, "WINDOW_UPDATE");
      f.streamId = get32(p) & 0x7fffffff;
      f.delta = get32(p + 4) & 0x7fffffff;
      if (f.delta == 0) throw ProtocolError("spdy: WINDOW_UPDATE with a zero delta");
      break;
    default:
      f.type = FrameType::Data;  // caller checks unknownType
      f.unknownType = type;
      break;
  }
}

// ---- streams ---------------------------------------------------------------

ssize_t Stream::read(void* buf, size_t n) {
  std::unique_lock<std::mutex> l(session_.mu_);
  cv_.wait(l, [&] { return !inbound_.empty() || remoteFin_ || reset_ || session_.closed_; });
  if (inbound_.empty()) return 0;
  size_t got = 0;
  auto out = static_cast<char*>(buf);
  while (got < n && !inbound_.empty()) {
    std::string& front = inbound_.front();
    size_t take = std::min(n - got, front.size() - inboundOffset_);
    memcpy(out + got, front.data() + inboundOffset_, take);
    got += take;
    inboundOffset_ += take;
    if (inboundOffset_ == front.size()) inbound_.pop_front(), inboundOffset_ = 0;
  }
  inboundBytes_ -= got;
  session_.consumed(*this, got);
  return ssize_t(got);
}

bool Stream::write(const void* data, size_t n) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    size_t chunk = session_.reserveSend(*this, n);
    if (chunk == 0) return false;
    if (!session_.sendData(*this, p, chunk, false)) return false;
    p += chunk;
    n -= chunk;
  }
  return true;
}

bool Stream::writeInPlace(char* data, size_t n, size_t room) {
  if (room < 8) return write(data, n);
  char* p = data;
  while (n > 0) {
    size_t chunk = session_.reserveSend(*this, n);
    if (chunk == 0) return false;
    // The 8 bytes before p are the caller's room (first chunk) or the end of the chunk just
    // sent, which the stream below has finished with once its write returned.
    char* frame = p - 8;
    FrameEncoder::dataHeader(frame, id_, chunk, 0);
    size_t roomLeft = room - 8 + size_t(p - data);  // all of it lent or already sent
    {
      std::lock_guard<std::mutex> w(session_.writeMu_);
      if (!session_.io_.writeInPlace(frame, 8 + chunk, roomLeft)) return false;
    }
    p += chunk;
    n -= chunk;
  }
  return true;
}

void Stream::closeWrite() {
  {
    std::lock_guard<std::mutex> l(session_.mu_);
    if (localFin_ || reset_ || session_.closed_) return;
    localFin_ = true;
  }
  session_.sendData(*this, nullptr, 0, true);
  std::lock_guard<std::mutex> l(session_.mu_);
  session_.finishStream(*this);
}

void Stream::reset(uint32_t status) {
  {
    std::lock_guard<std::mutex> l(session_.mu_);
    if (reset_ || session_.closed_) return;
    reset_ = true;
    cv_.notify_all();
    session_.windowCv_.notify_all();
    session_.streams_.erase(id_);
  }
  session_.sendRaw(FrameEncoder::rstStream(id_, status));
}

bool Stream::isReset() const {
  std::lock_guard<std::mutex> l(session_.mu_);
  return reset_;
}

// ---- session ---------------------------------------------------------------

Session::Session(ByteStream& io, SessionOptions o) : io_(io), opts_(o) {}

Session::~Session() { shutdown(); }

bool Session::closed() const {
  std::lock_guard<std::mutex> l(mu_);
  return closed_;
}

bool Session::sendRaw(const std::string& frame) {
  std::lock_guard<std::mutex> w(writeMu_);
  return io_.writeAll(frame);
}

bool Session::sendData(Stream& s, const char* p, size_t n, bool fin) {
  // One buffer per frame: the 8-byte header and the payload go out in one TLS record.
  std::string f;
  f.reserve(8 + n);
  f.resize(8);
  FrameEncoder::dataHeader(f.data(), s.id_, n, fin ? kFlagFin : 0);
  if (n) f.append(p, n);
  return sendRaw(f);
}

size_t Session::reserveSend(Stream& st, size_t n) {
  size_t chunk = std::min(n, kMaxChunk);
  std::unique_lock<std::mutex> l(mu_);
  windowCv_.wait(l, [&] {
    if (st.reset_ || st.localFin_ || closed_) return true;
    bool streamOk = !peerFlowControl_ || st.sendWindow_ > 0;
    bool sessionOk = !peerSessionFlowControl_ || sessionSendWindow_ > 0;
    return streamOk && sessionOk;
  });
  if (st.reset_ || st.localFin_ || closed_) return 0;
  if (peerFlowControl_) chunk = std::min<size_t>(chunk, size_t(st.sendWindow_));
  if (peerSessionFlowControl_) chunk = std::min<size_t>(chunk, size_t(sessionSendWindow_));
  st.sendWindow_ -= int64_t(chunk);
  sessionSendWindow_ -= int64_t(chunk);
  return chunk;
}

void Session::consumed(Stream& s, size_t n) {
  // Called under mu_ by Stream::read; announces consumed bytes in batches of half a window.
  s.unacked_ += n;
  sessionUnacked_ += n;
  std::string out;
  if (s.unacked_ >= size_t(kDefaultWindow / 2) && !s.remoteFin_ && !s.reset_) {
    out += FrameEncoder::windowUpdate(s.id_, uint32_t(s.unacked_));
    s.unacked_ = 0;
  }
  if (sessionUnacked_ >= size_t(kDefaultWindow / 2)) {
    out += FrameEncoder::windowUpdate(0, uint32_t(sessionUnacked_));
    sessionUnacked_ = 0;
  }
  // The reader may be waiting for this stream's queue to drain.
  s.cv_.notify_all();
  if (!out.empty() && !closed_) {
    // Writing under mu_ would let a slow socket stall every stream: hand it to a detached write.
    // Window updates are tiny; io_.writeAll serializes with other frames via writeMu_.
    mu_.unlock();
    sendRaw(out);
    mu_.lock();
  }
}

void Session::finishStream(Stream& s) {
  if ((s.localFin_ && s.remoteFin_) || s.reset_) streams_.erase(s.id_);
}

void Session::goAway() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (goAwaySent_ || closed_) return;
    goAwaySent_ = true;
  }
  sendRaw(FrameEncoder::goAway(lastPeerStream_, kGoAwayOk));
}

void Session::failAll() {
  std::lock_guard<std::mutex> l(mu_);
  closed_ = true;
  for (auto& [_, s] : streams_) s->cv_.notify_all();
  windowCv_.notify_all();
  streams_.clear();
}

void Session::shutdown() {
  failAll();
  io_.shutdown();
}

std::string Session::serve(const StreamHandler& onStream) {
  FrameDecoder dec;
  std::vector<char> buf(64 * 1024);
  std::string why;
  try {
    for (;;) {
      ssize_t n = io_.read(buf.data(), buf.size());
      if (n <= 0) break;
      dec.feed(buf.data(), size_t(n));
      Frame f;
      bool gone = false;
      while (dec.next(f)) {
        if (f.type == FrameType::GoAway) {
          gone = true;
          break;
        }
        handle(f, onStream);
      }
      if (gone) break;
      if (closed()) break;
    }
  } catch (const ProtocolError& e) {
    why = e.what();
    sendRaw(FrameEncoder::goAway(lastPeerStream_, kGoAwayProtocolError));
  }
  failAll();
  return why;
}

void Session::handle(Frame& f, const StreamHandler& onStream) {
  if (f.unknownType) return;  // unknown control frames are ignored (spec 2.2.1)
  switch (f.type) {
    case FrameType::SynStream: {
      std::shared_ptr<Stream> s;
      uint32_t refuse = 0;
      {
        std::lock_guard<std::mutex> l(mu_);
        // The client's ids are odd. They should also increase, but spdystream picks an id and
        // writes the SYN_STREAM in two steps, so concurrent streams can arrive slightly out of
        // order: only an id that is open right now is refused.
        if (f.streamId % 2 == 0 || streams_.count(f.streamId)) {
          refuse = kProtocolError;
        } else {
          lastPeerStream_ = std::max(lastPeerStream_, f.streamId);
          if (goAwaySent_ || int(streams_.size()) >= opts_.maxStreams) {
            refuse = kRefusedStream;
          } else {
            s.reset(new Stream(*this, f.streamId, std::move(f.headers)));
            s->sendWindow_ = peerInitialWindow_;
            s->remoteFin_ = f.flags & (kFlagFin | kFlagUnidirectional);
            streams_[f.streamId] = s;
          }
        }
      }
      if (refuse) {
        sendRaw(FrameEncoder::rstStream(f.streamId, refuse));
        return;
      }
      {
        std::lock_guard<std::mutex> w(writeMu_);  // the compressor belongs to the wire order
        io_.writeAll(encoder_.synReply(s->id_, {}));
      }
      onStream(s);
      return;
    }
    case FrameType::Data: {
      std::unique_lock<std::mutex> l(mu_);
      auto it = streams_.find(f.streamId);
      if (it == streams_.end()) {
        bool neverOpened = f.streamId > lastPeerStream_;
        l.unlock();
        // Data for a stream that was reset or finished is dropped quietly (it was in flight).
        if (neverOpened) sendRaw(FrameEncoder::rstStream(f.streamId, kInvalidStream));
        return;
      }
      auto s = it->second;
      if (s->remoteFin_) {
        l.unlock();
        s->reset(kStreamAlreadyClosed);
        return;
      }
      // Back-pressure for peers that ignore windows: wait until the consumer catches up.
      s->cv_.wait(l, [&] { return s->inboundBytes_ < opts_.maxInboundPerStream || s->reset_ || closed_; });
      if (s->reset_ || closed_) return;
      if (!f.data.empty()) {
        s->inboundBytes_ += f.data.size();
        s->inbound_.push_back(std::move(f.data));
      }
      if (f.flags & kFlagFin) {
        s->remoteFin_ = true;
        finishStream(*s);
      }
      s->cv_.notify_all();
      return;
    }
    case FrameType::SynReply:  // the client never expects replies from us to its own streams...
    case FrameType::Headers: {
      // ...and extra headers carry nothing these protocols use; only FIN matters.
      std::lock_guard<std::mutex> l(mu_);
      auto it = streams_.find(f.streamId);
      if (it != streams_.end() && (f.flags & kFlagFin)) {
        auto s = it->second;
        s->remoteFin_ = true;
        s->cv_.notify_all();
        finishStream(*s);
      }
      return;
    }
    case FrameType::RstStream: {
      std::lock_guard<std::mutex> l(mu_);
      auto it = streams_.find(f.streamId);
      if (it == streams_.end()) return;
      it->second->reset_ = true;
      it->second->cv_.notify_all();
      windowCv_.notify_all();
      streams_.erase(it);
      return;
    }
    case FrameType::Settings: {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& [id, v] : f.settings) {
        if (id != kSettingsInitialWindowSize) continue;
        if (v > 0x7fffffff) throw ProtocolError("spdy: initial window size out of range");
        int32_t delta = int32_t(v) - peerInitialWindow_;
        peerInitialWindow_ = int32_t(v);
        for (auto& [_, s] : streams_) s->sendWindow_ += delta;
      }
      windowCv_.notify_all();
      return;
    }
    case FrameType::Ping:
      // Odd ids are the client's: echo them. Even ids would answer our own pings (we send none).
      if (f.pingId % 2 == 1) sendRaw(FrameEncoder::ping(f.pingId));
      return;
    case FrameType::WindowUpdate: {
      std::unique_lock<std::mutex> l(mu_);
      if (f.streamId == 0) {
        peerSessionFlowControl_ = true;
        sessionSendWindow_ += f.delta;
      } else {
        peerFlowControl_ = true;
        auto it = streams_.find(f.streamId);
        if (it != streams_.end()) {
          auto s = it->second;
          s->sendWindow_ += f.delta;
          if (s->sendWindow_ > 0x7fffffff) {
            l.unlock();
            s->reset(kFlowControlError);
            return;
          }
        }
      }
      windowCv_.notify_all();
      return;
    }
    case FrameType::GoAway:
      return;  // handled by serve()
  }
}

}  // namespace k1s::spdy
