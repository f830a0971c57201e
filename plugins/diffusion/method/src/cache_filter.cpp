#include "diffmix/diffusion/cache_filter.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::diffusion {
namespace {

struct ScoresFile {
  std::vector<float> scores;
  size_t complete_bytes = 0;  // length of the prefix made of complete lines
  bool truncated_tail = false;
};

float parse_score_line(const std::string& line, const std::string& where, const std::string& expected_path,
                       const std::string& manifest_path) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& error) {
    throw format_error(where + ": not valid JSON: " + error.what());
  }
  if (!object.is_object() || !object.contains("path") || !object["path"].is_string() || !object.contains("p_with") ||
      !object["p_with"].is_number())
    throw format_error(where + ": expected {\"path\": string, \"p_with\": number}");
  const auto path = object["path"].get<std::string>();
  if (path != expected_path)
    throw format_error(where + ": scores '" + path + "' but " + manifest_path + " has '" + expected_path +
                       "' there; the scores belong to another cache (delete " + kClipScoresFileName +
                       " to score again)");
  return object["p_with"].get<float>();
}

// A line counts only once its '\n' is written: the scorer appends whole lines, so anything after the last '\n' is
// a line a killed run did not finish.
ScoresFile read_scores_file(const std::string& folder, const std::vector<data::SyntheticRecord>& records) {
  const std::string path = folder + "/" + kClipScoresFileName;
  const std::string manifest_path = folder + "/" + data::kManifestFileName;
  const std::string content = io::read_text_if_exists(path);
  ScoresFile file;
  size_t start = 0;
  for (size_t newline = content.find('\n'); newline != std::string::npos; newline = content.find('\n', start)) {
    const size_t n = file.scores.size();
    const std::string where = path + ":" + std::to_string(n + 1);
    if (n >= records.size())
      throw format_error(where + ": more scores than the " + std::to_string(records.size()) + " samples of " +
                         manifest_path + " (delete " + kClipScoresFileName + " to score again)");
    file.scores.push_back(parse_score_line(content.substr(start, newline - start), where, records[n].path,
                                           manifest_path));
    start = newline + 1;
  }
  file.complete_bytes = start;
  file.truncated_tail = start < content.size();
  return file;
}

// Appends whole lines and fsyncs them; one instance per filter run.
class ScoresAppender {
 public:
  explicit ScoresAppender(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "ab");
    if (!file_) throw io_error_from_errno("cannot open " + path_ + " for appending");
  }
  ~ScoresAppender() { std::fclose(file_); }
  ScoresAppender(const ScoresAppender&) = delete;
  ScoresAppender& operator=(const ScoresAppender&) = delete;

  void append(const std::vector<data::SyntheticRecord>& records, int64_t first, const std::vector<float>& scores) {
    std::string lines;
    for (size_t i = 0; i < scores.size(); ++i) {
      const nlohmann::json line = {{"path", records[static_cast<size_t>(first) + i].path}, {"p_with", scores[i]}};
      lines += line.dump() + "\n";
    }
    if (std::fwrite(lines.data(), 1, lines.size(), file_) != lines.size() || std::fflush(file_) != 0 ||
        ::fsync(::fileno(file_)) != 0)
      throw io_error_from_errno("cannot append to " + path_);
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace

std::vector<float> read_clip_scores(const std::string& folder, const std::vector<data::SyntheticRecord>& records) {
  return read_scores_file(folder, records).scores;
}

CacheFilterSummary filter_synthetic_cache(const ClipFilter& filter, const std::string& folder, int64_t num_classes,
                                          const CacheFilterOptions& options) {
  if (options.batch_size < 1)
    throw invalid_argument("CLIP filter: batch_size " + std::to_string(options.batch_size) + " must be >= 1");
  const auto cache = data::SyntheticCache::open(folder, num_classes);
  const auto& records = cache->records();
  const std::string scores_path = folder + "/" + kClipScoresFileName;

  ScoresFile scored = read_scores_file(folder, records);
  if (scored.truncated_tail) {
    spdlog::warn("{}: dropping an incomplete last line left by an interrupted run", scores_path);
    if (::truncate(scores_path.c_str(), static_cast<off_t>(scored.complete_bytes)) != 0)
      throw io_error_from_errno("cannot truncate " + scores_path);
  }
  CacheFilterSummary summary;
  summary.samples = cache->size();
  summary.scores = std::move(scored.scores);
  if (!summary.scores.empty() && summary.scores.size() < records.size())
    spdlog::info("{}: resuming after {} scored samples", scores_path, summary.scores.size());

  ScoresAppender appender(scores_path);
  for (auto first = static_cast<int64_t>(summary.scores.size()); first < cache->size(); first += options.batch_size) {
    const int64_t last = std::min(cache->size(), first + options.batch_size);
    std::vector<at::Tensor> images;
    for (int64_t i = first; i < last; ++i) images.push_back(cache->load_image(i));
    const std::vector<float> scores = filter.score(images);
    appender.append(records, first, scores);
    summary.scores.insert(summary.scores.end(), scores.begin(), scores.end());
    summary.newly_scored += last - first;
    if (options.on_progress) options.on_progress(last, cache->size());
  }

  summary.kept = select_kept(summary.scores, options.drop_fraction);
  std::vector<data::SyntheticRecord> kept_records;
  kept_records.reserve(summary.kept.size());
  for (const int64_t i : summary.kept) kept_records.push_back(records[static_cast<size_t>(i)]);
  data::write_manifest(folder + "/" + data::kFilteredManifestFileName, kept_records);
  return summary;
}

}  // namespace dmx::diffusion
