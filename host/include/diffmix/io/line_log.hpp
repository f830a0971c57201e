// Append-only text files of one record per line, such as a synthetic cache's manifest.jsonl and the CLIP filter's
// clip_scores.jsonl. A line counts once its '\n' is on disk, so a run killed in the middle of an append leaves at
// most one incomplete line at the end: readers ignore it and the next writer cuts it off.
//
//   dmx::io::LineLog log("cache/manifest.jsonl");       // resumes: log.lines() are the complete lines found
//   log.append(json + "\n");                             // written and fsynced before it returns
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace dmx::io {

struct CompleteLines {
  std::vector<std::string> lines;  // without their '\n'
  size_t complete_bytes = 0;       // length of the prefix made of complete lines
  bool truncated_tail = false;     // bytes after the last '\n': a line an interrupted writer did not finish
};

CompleteLines split_complete_lines(const std::string& content);

class LineLog {
 public:
  // Reads `path` (a missing file is an empty log), cuts an incomplete last line off it with a warning, and opens it
  // for appending. I/O failures are errors naming `path`.
  explicit LineLog(std::string path);
  ~LineLog();
  LineLog(const LineLog&) = delete;
  LineLog& operator=(const LineLog&) = delete;

  const std::string& path() const { return path_; }
  // The complete lines the file held when it was opened.
  const std::vector<std::string>& lines() const { return lines_; }

  // Appends `text` (whole lines, each ending in '\n') and fsyncs it. After a failed append (a full disk) the file may
  // end in half a line, so every later append is refused: reopen the log to resume.
  void append(const std::string& text);

 private:
  std::string path_;
  std::vector<std::string> lines_;
  std::FILE* file_ = nullptr;
  bool broken_ = false;
};

}  // namespace dmx::io
