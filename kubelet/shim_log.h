// The CRI log format the shim writes for the workload's output:
//   2026-11-25T19:10:12.345678901Z stdout F line
// one record per line; a line longer than 16 KiB is split into P (partial) records ending with an F.
#pragma once
#include <string>

namespace k1s::shim {

class CriLogWriter {
 public:
  static constexpr size_t kMaxLine = 16 * 1024;
  explicit CriLogWriter(const std::string& path);  // opens for append (creates parent dirs)
  ~CriLogWriter();
  CriLogWriter(const CriLogWriter&) = delete;
  CriLogWriter& operator=(const CriLogWriter&) = delete;
  // stream: 0 stdout, 1 stderr.
  void feed(int stream, const char* data, size_t n);
  void flush(int stream);  // writes a pending partial line as a full record (end of stream)

 private:
  void record(int stream, char tag, const char* data, size_t n);
  int fd_ = -1;
  std::string pending_[2];
};

}  // namespace k1s::shim
