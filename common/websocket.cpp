#include "common/websocket.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace k1s::ws {

namespace {

// Message payloads from this size on are read from the stream straight into the message, up to
// a size whose buffer may be allocated before its bytes arrive (a peer announcing a huge frame
// and sending nothing must not cost that much memory at once; larger ones grow as bytes come).
constexpr size_t kDirectPayload = 4096;
constexpr size_t kDirectPayloadMax = 2 << 20;  // a port-forward's 1 MiB reads, with their channel byte

const char* kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(len > 0 ? static_cast<size_t>(len) : 0);
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Comma-separated header values (several header lines count as one list).
std::vector<std::string> tokens(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    auto t = trim(v.substr(start, comma - start));
    if (!t.empty()) out.push_back(t);
    start = comma + 1;
  }
  return out;
}

bool hasToken(const std::string& v, const std::string& tokenLower) {
  for (auto& t : tokens(v))
    if (lower(t) == tokenLower) return true;
  return false;
}

void randomBytes(unsigned char* p, size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) throw std::runtime_error("websocket: no random bytes for the mask");
}

// XOR with the 4-byte key; word-wise so a port-forward stream is not limited
// by a byte loop.
void applyMask(char* p, size_t n, const unsigned char key[4]) {
  uint64_t k8;
  unsigned char rep[8];
  for (int i = 0; i < 8; ++i) rep[i] = key[i % 4];
  memcpy(&k8, rep, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    w ^= k8;
    memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

bool isControl(Opcode op) { return static_cast<uint8_t>(op) >= 8; }

bool validUtf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t j = 1; j < len; ++j) {
      unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

bool validCloseCode(uint16_t c) {
  if (c >= 3000 && c <= 4999) return true;  // registered / private use
  return c == 1000 || c == 1001 || c == 1002 || c == 1003 || (c >= 1007 && c <= 1011);
}

}  // namespace

// ---- handshake -------------------------------------------------------------

std::string acceptKey(const std::string& clientKey) {
  std::string in = clientKey + kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return base64(digest, sizeof digest);
}

std::string UpgradeRequest::header(const std::string& lowerName) const {
  // Repeated header lines are one comma-separated list (RFC 9110 5.3).
  std::string out;
  auto [b, e] = headers.equal_range(lowerName);
  for (auto it = b; it != e; ++it) out += (out.empty() ? "" : ", ") + it->second;
  return out;
}

bool isWebSocketUpgrade(const UpgradeRequest& r) {
  return hasToken(r.header("connection"), "upgrade") && hasToken(r.header("upgrade"), "websocket");
}

ServerHandshake negotiate(const UpgradeRequest& r, const std::vector<std::string>& supported, bool allowNone) {
  ServerHandshake h;
  if (r.method != "GET") {
    h.error = "websocket upgrade requires GET, not " + r.method;
    return h;
  }
  if (!isWebSocketUpgrade(r)) {
    h.error = "not a websocket upgrade request (missing Connection: Upgrade / Upgrade: websocket)";
    return h;
  }
  if (trim(r.header("sec-websocket-version")) != "13") {
    h.httpStatus = 426;  // Upgrade Required, with the version we speak
    h.error = "unsupported websocket version \"" + r.header("sec-websocket-version") + "\" (want 13)";
    h.responseHeaders = {{"Sec-WebSocket-Version", "13"}};
    return h;
  }
  std::string key = trim(r.header("sec-websocket-key"));
  // The key is 16 random bytes in base64: 24 characters ending in "==".
  if (key.size() != 24 || key.compare(22, 2, "==") != 0) {
    h.error = "missing or malformed Sec-WebSocket-Key";
    return h;
  }
  auto offered = tokens(r.header("sec-websocket-protocol"));
  if (offered.empty()) {
    if (!allowNone) {
      std::string list;
      for (auto& s : supported) list += (list.empty() ? "" : ", ") + s;
      h.error = "no subprotocol requested (Sec-WebSocket-Protocol); supported: " + list;
      return h;
    }
  } else {
    for (auto& o : offered)
      if (std::find(supported.begin(), supported.end(), o) != supported.end()) {
        h.protocol = o;
        break;
      }
    if (h.protocol.empty()) {
      std::string offer, list;
      for (auto& s : offered) offer += (offer.empty() ? "" : ", ") + s;
      for (auto& s : supported) list += (list.empty() ? "" : ", ") + s;
      h.error = "unable to upgrade: unsupported subprotocol [" + offer + "]; supported: [" + list + "]";
      return h;
    }
  }
  h.ok = true;
  h.responseHeaders = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", acceptKey(key)}};
  if (!h.protocol.empty()) h.responseHeaders.emplace_back("Sec-WebSocket-Protocol", h.protocol);
  return h;
}

// ---- frames ----------------------------------------------------------------

std::string encodeFrame(Opcode op, const void* data, size_t n, bool fin, bool mask) {
  return encodeFrame(op, nullptr, 0, data, n, fin, mask);
}

size_t frameHeaderSize(size_t n, bool mask) { return (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10) + (mask ? 4 : 0); }

void writeFrameHeader(char* out, Opcode op, size_t n, bool fin, bool mask, const unsigned char key[4]) {
  size_t i = 0;
  out[i++] = static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
  uint8_t maskBit = mask ? 0x80 : 0;
  if (n < 126) {
    out[i++] = static_cast<char>(maskBit | n);
  } else if (n <= 0xFFFF) {
    out[i++] = static_cast<char>(maskBit | 126);
    out[i++] = static_cast<char>(n >> 8);
    out[i++] = static_cast<char>(n & 0xFF);
  } else {
    out[i++] = static_cast<char>(maskBit | 127);
    for (int b = 7; b >= 0; --b) out[i++] = static_cast<char>((static_cast<uint64_t>(n) >> (8 * b)) & 0xFF);
  }
  if (mask) memcpy(out + i, key, 4);
}

std::string encodeFrame(Opcode op, const void* prefix, size_t pn, const void* data, size_t n, bool fin, bool mask) {
  const size_t total = pn + n;
  unsigned char key[4] = {0, 0, 0, 0};
  if (mask) randomBytes(key, 4);
  const size_t start = frameHeaderSize(total, mask);
  std::string f;
  f.reserve(start + total);
  f.resize(start);
  writeFrameHeader(f.data(), op, total, fin, mask, key);
  if (pn) f.append(static_cast<const char*>(prefix), pn);
  if (n) f.append(static_cast<const char*>(data), n);
  if (mask) applyMask(f.data() + start, total, key);
  return f;
}

bool FrameDecoder::head(Head& h) const {
  const size_t avail = buf_.size() - pos_;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  if (avail < 2) return false;
  h.fin = p[0] & 0x80;
  if (p[0] & 0x70) throw ProtocolError(kCloseProtocolError, "websocket: reserved bits set in frame header (no extension was negotiated)");
  uint8_t opcode = p[0] & 0x0F;
  if (!(opcode <= 2 || (opcode >= 8 && opcode <= 10)))
    throw ProtocolError(kCloseProtocolError, "websocket: unknown opcode " + std::to_string(opcode));
  h.opcode = static_cast<Opcode>(opcode);
  h.masked = p[1] & 0x80;
  if (h.masked != expectMasked_)
    throw ProtocolError(kCloseProtocolError, expectMasked_ ? "websocket: client frame is not masked"
                                                           : "websocket: server frame is masked");
  uint64_t len = p[1] & 0x7F;
  size_t hdr = 2;
  if (len == 126) {
    if (avail < 4) return false;
    len = (uint64_t{p[2]} << 8) | p[3];
    hdr = 4;
  } else if (len == 127) {
    if (avail < 10) return false;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 63) throw ProtocolError(kCloseProtocolError, "websocket: 64-bit frame length has its top bit set");
    hdr = 10;
  }
  if (isControl(h.opcode)) {
    if (!h.fin) throw ProtocolError(kCloseProtocolError, "websocket: fragmented control frame");
    if (len > 125) throw ProtocolError(kCloseProtocolError, "websocket: control frame longer than 125 bytes");
  }
  if (len > maxPayload_)
    throw ProtocolError(kCloseTooBig, "websocket: frame of " + std::to_string(len) + " bytes exceeds the limit of " +
                                          std::to_string(maxPayload_));
  if (h.masked) {
    if (avail < hdr + 4) return false;
    memcpy(h.key, p + hdr, 4);
    hdr += 4;
  }
  h.headerSize = hdr;
  h.payloadSize = static_cast<size_t>(len);
  return true;
}

size_t FrameDecoder::takePartial(const Head& h, char* out) {
  size_t have = std::min(buf_.size() - pos_ - h.headerSize, h.payloadSize);
  memcpy(out, buf_.data() + pos_ + h.headerSize, have);
  pos_ += h.headerSize + have;
  if (pos_ == buf_.size()) buf_.clear(), pos_ = 0;
  return have;
}

bool FrameDecoder::next(Frame& out) {
  Head h;
  if (!head(h) || buf_.size() - pos_ - h.headerSize < h.payloadSize) return false;
  out.fin = h.fin;
  out.opcode = h.opcode;
  out.payload.assign(buf_.data() + pos_ + h.headerSize, h.payloadSize);
  if (h.masked) applyMask(out.payload.data(), out.payload.size(), h.key);
  pos_ += h.headerSize + h.payloadSize;
  // Drop consumed bytes once they dominate the buffer (amortised O(1) per byte).
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return true;
}

// ---- connection ------------------------------------------------------------

Connection::Connection(std::unique_ptr<ByteStream> stream, Role role, size_t maxMessage, std::string preread)
    : stream_(std::move(stream)), role_(role), maxMessage_(maxMessage), decoder_(role == Role::Server, maxMessage) {
  if (!preread.empty()) decoder_.feed(preread.data(), preread.size());
}

Connection::~Connection() = default;

bool Connection::sendFrame(Opcode op, const void* data, size_t n) {
  std::string f = encodeFrame(op, data, n, true, role_ == Role::Client);
  return stream_->writeAll(f);
}

bool Connection::send(Opcode type, const void* data, size_t n) {
  if (closeSent_) return false;
  return sendFrame(type, data, n);
}

bool Connection::send(Opcode type, const void* prefix, size_t pn, const void* data, size_t n) {
  if (closeSent_) return false;
  return stream_->writeAll(encodeFrame(type, prefix, pn, data, n, true, role_ == Role::Client));
}

bool Connection::sendInPlace(Opcode type, char* p, size_t n, size_t room) {
  if (closeSent_) return false;
  bool mask = role_ == Role::Client;
  size_t h = frameHeaderSize(n, mask);
  if (room < h) return send(type, p, n);
  unsigned char key[4] = {0, 0, 0, 0};
  if (mask) {
    randomBytes(key, 4);
    applyMask(p, n, key);
  }
  writeFrameHeader(p - h, type, n, true, mask, key);
  return stream_->writeInPlace(p - h, h + n, room - h);
}

bool Connection::ping(const std::string& payload) {
  if (closeSent_ || payload.size() > 125) return false;
  return sendFrame(Opcode::Ping, payload.data(), payload.size());
}

void Connection::close(uint16_t code, const std::string& reason) {
  if (closeSent_.exchange(true)) return;
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xFF));
  body += reason.substr(0, 123);
  sendFrame(Opcode::Close, body.data(), body.size());
}

void Connection::shutdown() { stream_->shutdown(); }

bool Connection::read(Message& m) {
  bool assembling = false;
  Opcode assemblingType = Opcode::Binary;
  std::string assembled;
  char buf[65536];
  for (;;) {
    Frame f;
    bool have, direct = false;
    FrameDecoder::Head h;
    try {
      have = decoder_.next(f);
      direct = !have && !assembling && decoder_.head(h) && h.fin && h.payloadSize >= kDirectPayload &&
               h.payloadSize <= kDirectPayloadMax && (h.opcode == Opcode::Binary || h.opcode == Opcode::Text);
    } catch (const ProtocolError& e) {
      close(e.closeCode, e.what());
      closeCode_ = e.closeCode;
      closeReason_ = e.what();
      throw;
    }
    if (direct) {
      // A large whole message (a port-forward's bulk data): its payload goes from the stream
      // straight into the message, decrypted there by the TLS layer, instead of through the
      // decoder's buffer and a copy out of it. The caller's previous message lends its buffer,
      // usually of the same size already (no zero-filling).
      f.fin = true;
      f.opcode = h.opcode;
      f.payload.swap(m.data);
      f.payload.resize(h.payloadSize);
      size_t got = decoder_.takePartial(h, f.payload.data());
      while (got < h.payloadSize) {
        ssize_t n = stream_->read(f.payload.data() + got, h.payloadSize - got);
        if (n <= 0) {  // gone mid-frame
          if (closeCode_ == 0) closeCode_ = 1006;
          return false;
        }
        got += static_cast<size_t>(n);
      }
      if (h.masked) applyMask(f.payload.data(), f.payload.size(), h.key);
    } else if (!have) {
      ssize_t n = stream_->read(buf, sizeof buf);
      if (n <= 0) {
        if (closeCode_ == 0) closeCode_ = 1006;  // gone without a close frame
        return false;
      }
      decoder_.feed(buf, static_cast<size_t>(n));
      continue;
    }
    auto fail = [&](uint16_t code, const std::string& why) {
      close(code, why);
      closeCode_ = code;
      closeReason_ = why;
      throw ProtocolError(code, why);
    };
    switch (f.opcode) {
      case Opcode::Ping:
        sendFrame(Opcode::Pong, f.payload.data(), f.payload.size());
        continue;
      case Opcode::Pong:
        continue;
      case Opcode::Close: {
        uint16_t code = 1005;  // no status code present
        std::string reason;
        if (f.payload.size() == 1) fail(kCloseProtocolError, "websocket: close frame with a 1-byte body");
        if (f.payload.size() >= 2) {
          code = static_cast<uint16_t>((static_cast<unsigned char>(f.payload[0]) << 8) |
                                       static_cast<unsigned char>(f.payload[1]));
          reason = f.payload.substr(2);
          if (!validCloseCode(code)) fail(kCloseProtocolError, "websocket: invalid close code " + std::to_string(code));
          if (!validUtf8(reason)) fail(kCloseInvalidData, "websocket: close reason is not UTF-8");
        }
        closeCode_ = code;
        closeReason_ = reason;
        close(code == 1005 ? kCloseNormal : code);  // echo, completing the close handshake
        return false;
      }
      case Opcode::Text:
      case Opcode::Binary:
        if (assembling) fail(kCloseProtocolError, "websocket: new data frame inside a fragmented message");
        if (f.fin) {
          if (f.opcode == Opcode::Text && !validUtf8(f.payload))
            fail(kCloseInvalidData, "websocket: text message is not UTF-8");
          m.type = f.opcode;
          m.data = std::move(f.payload);
          return true;
        }
        assembling = true;
        assemblingType = f.opcode;
        assembled = std::move(f.payload);
        continue;
      case Opcode::Continuation:
        if (!assembling) fail(kCloseProtocolError, "websocket: continuation frame without a message to continue");
        if (assembled.size() + f.payload.size() > maxMessage_)
          fail(kCloseTooBig, "websocket: message exceeds the limit of " + std::to_string(maxMessage_) + " bytes");
        assembled += f.payload;
        if (f.fin) {
          if (assemblingType == Opcode::Text && !validUtf8(assembled))
            fail(kCloseInvalidData, "websocket: text message is not UTF-8");
          m.type = assemblingType;
          m.data = std::move(assembled);
          return true;
        }
        continue;
    }
  }
}

// ---- client handshake ------------------------------------------------------

std::unique_ptr<Connection> clientHandshake(std::unique_ptr<ByteStream> stream, const ClientRequest& req,
                                            std::string* chosen, size_t maxMessage) {
  unsigned char raw[16];
  randomBytes(raw, sizeof raw);
  std::string key = base64(raw, sizeof raw);
  std::string r = "GET " + req.path + " HTTP/1.1\r\nHost: " + req.host +
                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                  "\r\nSec-WebSocket-Version: 13\r\n";
  if (!req.protocols.empty()) {
    std::string list;
    for (auto& p : req.protocols) list += (list.empty() ? "" : ", ") + p;
    r += "Sec-WebSocket-Protocol: " + list + "\r\n";
  }
  for (auto& [k, v] : req.headers) r += k + ": " + v + "\r\n";
  r += "\r\n";
  if (!stream->writeAll(r)) throw std::runtime_error("websocket: the connection closed while sending the upgrade request");

  // Read the reply head; whatever follows it is the first WebSocket bytes.
  std::string in;
  size_t headEnd;
  char buf[8192];
  while ((headEnd = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > 65536) throw std::runtime_error("websocket: upgrade reply header too long");
    ssize_t n = stream->read(buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("websocket: the connection closed before the upgrade reply");
    in.append(buf, static_cast<size_t>(n));
  }
  std::string head = in.substr(0, headEnd);
  std::string rest = in.substr(headEnd + 4);
  std::multimap<std::string, std::string> hdrs;
  size_t lineEnd = head.find("\r\n");
  std::string statusLine = head.substr(0, lineEnd);
  for (size_t pos = lineEnd; pos != std::string::npos && pos < head.size();) {
    size_t start = pos + 2, end = head.find("\r\n", start);
    std::string line = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
    auto colon = line.find(':');
    if (colon != std::string::npos) hdrs.emplace(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
    pos = end;
  }
  int status = 0;
  if (statusLine.compare(0, 5, "HTTP/") == 0) {
    auto sp = statusLine.find(' ');
    if (sp != std::string::npos) status = atoi(statusLine.c_str() + sp + 1);
  }
  auto header = [&](const std::string& n) {
    auto it = hdrs.find(n);
    return it == hdrs.end() ? std::string() : it->second;
  };
  if (status != 101) {
    // The body explains the refusal (a Status from the API server).
    std::string body = rest;
    long long want = -1;
    if (auto cl = header("content-length"); !cl.empty()) want = atoll(cl.c_str());
    while ((want < 0 || static_cast<long long>(body.size()) < want) && body.size() < (1u << 20)) {
      ssize_t n = stream->read(buf, sizeof buf);
      if (n <= 0) break;
      body.append(buf, static_cast<size_t>(n));
    }
    if (want >= 0 && static_cast<long long>(body.size()) > want) body.resize(static_cast<size_t>(want));
    throw HandshakeRejected(status, body, "websocket upgrade refused: " + statusLine);
  }
  if (lower(header("upgrade")) != "websocket" || !hasToken(header("connection"), "upgrade"))
    throw std::runtime_error("websocket: 101 reply without Upgrade: websocket");
  if (header("sec-websocket-accept") != acceptKey(key))
    throw std::runtime_error("websocket: the server's Sec-WebSocket-Accept does not match our key");
  std::string proto = header("sec-websocket-protocol");
  if (!req.protocols.empty() &&
      std::find(req.protocols.begin(), req.protocols.end(), proto) == req.protocols.end())
    throw std::runtime_error("websocket: the server chose subprotocol \"" + proto + "\", which was not offered");
  if (chosen) *chosen = proto;
  return std::make_unique<Connection>(std::move(stream), Connection::Role::Client, maxMessage, rest);
}

// ---- bytes over messages ---------------------------------------------------

namespace {

class MessageStream : public ByteStream {
 public:
  explicit MessageStream(std::shared_ptr<Connection> c) : c_(std::move(c)) {}
  ssize_t read(void* buf, size_t n) override {
    while (pos_ >= pending_.data.size()) {
      if (ended_) return 0;
      try {
        if (!c_->read(pending_)) {
          ended_ = true;
          return 0;
        }
      } catch (const std::exception&) {
        ended_ = true;
        return -1;
      }
      pos_ = 0;
      if (pending_.type != Opcode::Binary) {  // the tunnel carries bytes only
        c_->close(kCloseProtocolError, "tunnel expects binary messages");
        ended_ = true;
        return -1;
      }
    }
    size_t k = std::min(n, pending_.data.size() - pos_);
    memcpy(buf, pending_.data.data() + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }
  bool writeAll(const void* buf, size_t n) override { return c_->send(Opcode::Binary, buf, n); }
  bool writeInPlace(char* buf, size_t n, size_t room) override {
    return c_->sendInPlace(Opcode::Binary, buf, n, room);
  }
  void shutdown() override {
    c_->close(kCloseNormal);
    c_->shutdown();
  }

 private:
  std::shared_ptr<Connection> c_;
  Message pending_;
  size_t pos_ = 0;
  bool ended_ = false;
};

}  // namespace

std::unique_ptr<ByteStream> messageStream(std::shared_ptr<Connection> c) {
  return std::make_unique<MessageStream>(std::move(c));
}

}  // namespace k1s::ws
