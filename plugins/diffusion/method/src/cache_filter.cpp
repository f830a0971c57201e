#include "diffmix/diffusion/cache_filter.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/line_log.hpp"

namespace dmx::diffusion {
namespace {

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

// The scores of the complete lines of clip_scores.jsonl, checked against the manifest's paths in order.
std::vector<float> parse_scores(const std::vector<std::string>& lines, const std::string& folder,
                                const std::vector<data::SyntheticRecord>& records) {
  const std::string path = folder + "/" + kClipScoresFileName;
  const std::string manifest_path = folder + "/" + data::kManifestFileName;
  std::vector<float> scores;
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string where = path + ":" + std::to_string(n + 1);
    if (n >= records.size())
      throw format_error(where + ": more scores than the " + std::to_string(records.size()) + " samples of " +
                         manifest_path + " (delete " + kClipScoresFileName + " to score again)");
    scores.push_back(parse_score_line(lines[n], where, records[n].path, manifest_path));
  }
  return scores;
}

std::string score_lines(const std::vector<data::SyntheticRecord>& records, int64_t first,
                        const std::vector<float>& scores) {
  std::string lines;
  for (size_t i = 0; i < scores.size(); ++i) {
    const nlohmann::json line = {{"path", records[static_cast<size_t>(first) + i].path}, {"p_with", scores[i]}};
    lines += line.dump() + "\n";
  }
  return lines;
}

}  // namespace

std::vector<float> read_clip_scores(const std::string& folder, const std::vector<data::SyntheticRecord>& records) {
  const auto content = io::read_text_if_exists(folder + "/" + kClipScoresFileName);
  return parse_scores(io::split_complete_lines(content).lines, folder, records);
}

CacheFilterSummary filter_synthetic_cache(const ClipFilter& filter, const std::string& folder, int64_t num_classes,
                                          const CacheFilterOptions& options) {
  if (options.batch_size < 1)
    throw invalid_argument("CLIP filter: batch_size " + std::to_string(options.batch_size) + " must be >= 1");
  const auto cache = data::SyntheticCache::open(folder, num_classes);
  const auto& records = cache->records();
  io::LineLog scores_log(folder + "/" + kClipScoresFileName);
  CacheFilterSummary summary;
  summary.samples = cache->size();
  summary.scores = parse_scores(scores_log.lines(), folder, records);
  if (!summary.scores.empty() && summary.scores.size() < records.size())
    spdlog::info("{}: resuming after {} scored samples", scores_log.path(), summary.scores.size());

  for (auto first = static_cast<int64_t>(summary.scores.size()); first < cache->size(); first += options.batch_size) {
    const int64_t last = std::min(cache->size(), first + options.batch_size);
    std::vector<at::Tensor> images;
    for (int64_t i = first; i < last; ++i) images.push_back(cache->load_image(i));
    const std::vector<float> scores = filter.score(images);
    scores_log.append(score_lines(records, first, scores));
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
