#include "diffmix/io/line_log.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::io {

CompleteLines split_complete_lines(const std::string& content) {
  CompleteLines text;
  size_t start = 0;
  for (size_t newline = content.find('\n'); newline != std::string::npos; newline = content.find('\n', start)) {
    text.lines.push_back(content.substr(start, newline - start));
    start = newline + 1;
  }
  text.complete_bytes = start;
  text.truncated_tail = start < content.size();
  return text;
}

LineLog::LineLog(std::string path) : path_(std::move(path)) {
  CompleteLines existing = split_complete_lines(read_text_if_exists(path_));
  if (existing.truncated_tail) {
    // Cut the unfinished line off, so that the next append starts a fresh line.
    spdlog::warn("{}: dropping an incomplete last line left by an interrupted run", path_);
    if (::truncate(path_.c_str(), static_cast<off_t>(existing.complete_bytes)) != 0)
      throw io_error_from_errno("cannot truncate " + path_);
  }
  lines_ = std::move(existing.lines);
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) throw io_error_from_errno("cannot open " + path_ + " for appending");
}

LineLog::~LineLog() {
  if (file_) std::fclose(file_);
}

void LineLog::append(const std::string& text) {
  if (broken_) throw io_error(path_ + ": an earlier append failed; reopen it to resume");
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0 ||
      ::fsync(::fileno(file_)) != 0) {
    broken_ = true;
    throw io_error_from_errno("cannot append to " + path_);
  }
}

}  // namespace dmx::io
