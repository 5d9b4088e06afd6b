#include "kubelet/shim_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "kubelet/shim_internal.h"

namespace k1s::shim {

CriLogWriter::CriLogWriter(const std::string& path) {
  if (path.empty()) return;  // no log wanted: output is read and dropped
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdirAll(path.substr(0, slash));
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::runtime_error(errnoText("open log " + path));
}

CriLogWriter::~CriLogWriter() {
  if (fd_ >= 0) close(fd_);
}

void CriLogWriter::record(int stream, char tag, const char* data, size_t n) {
  if (fd_ < 0) return;
  std::string line = nowRfc3339Nano();
  line += stream ? " stderr " : " stdout ";
  line += tag;
  line += ' ';
  line.append(data, n);
  line += '\n';
  // One write per record: O_APPEND keeps records whole for concurrent readers.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = write(fd_, line.data() + off, line.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // disk full etc.: drop rather than block the workload
    off += size_t(w);
  }
}

void CriLogWriter::feed(int stream, const char* data, size_t n) {
  std::string& p = pending_[stream & 1];
  p.append(data, n);
  size_t start = 0;
  for (;;) {
    size_t nl = p.find('\n', start);
    size_t avail = (nl == std::string::npos ? p.size() : nl) - start;
    if (avail >= kMaxLine) {
      record(stream, 'P', p.data() + start, kMaxLine);
      start += kMaxLine;
      continue;
    }
    if (nl == std::string::npos) break;
    record(stream, 'F', p.data() + start, nl - start);
    start = nl + 1;
  }
  p.erase(0, start);
}

void CriLogWriter::flush(int stream) {
  std::string& p = pending_[stream & 1];
  if (!p.empty()) record(stream, 'F', p.data(), p.size());
  p.clear();
}

}  // namespace k1s::shim
