// Waterbirds (waterbird_complete95_forest2water2) as distributed: metadata.csv with columns img_id, img_filename, y,
// split, place (and place_filename), the images under their img_filename ("001.Black_footed_Albatross/x.jpg").
// The class of an image is its CUB species, read from that folder name, as the Diff-Mix authors test a CUB
// classifier on it; y (landbird 0, waterbird 1) and place (land 0, water 1) make its group.
#include <algorithm>
#include <map>
#include <memory>

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "csv_line.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

// The column of each name `metadata.csv` must have; a missing one is a format error naming the file.
std::map<std::string, size_t> header_columns(const std::string& path, const std::string& header) {
  std::map<std::string, size_t> columns;
  const auto names = split_csv_line(header);
  for (size_t i = 0; i < names.size(); ++i) columns[names[i]] = i;
  for (const char* name : {"img_filename", "y", "split", "place"})
    if (!columns.count(name)) throw format_error(path + ":1: the header has no column '" + name + "'");
  return columns;
}

// A field that must be 0 or 1 (or 0, 1, 2 for the split); -1 when it is not.
int small_code(const std::string& text, int largest) {
  if (text.size() != 1 || text[0] < '0' || text[0] > '0' + largest) return -1;
  return text[0] - '0';
}

struct Row {
  std::string file;
  int64_t species = 0;  // 1-based, from the folder name
  int split = 0;
  int group = 0;
};

}  // namespace

const std::vector<std::string>& waterbirds_group_names() {
  static const std::vector<std::string> names = {"landbird on land", "landbird on water", "waterbird on land",
                                                 "waterbird on water"};
  return names;
}

DatasetPtr open_waterbirds(const std::string& root, const std::string& split, bool skip_bad_entries,
                           bool verify_images, std::vector<int64_t>* groups) {
  // "all": every image of the three splits; the paper tests its CUB classifiers on the whole set.
  const std::vector<std::string> splits = {"train", "val", "test", "all"};
  const auto wanted = std::find(splits.begin(), splits.end(), split);
  if (wanted == splits.end())
    throw invalid_argument("waterbirds: unknown split '" + split + "' (expected train, val, test or all)");
  const std::string path = root + "/metadata.csv";
  const auto lines = read_lines(path);
  if (lines.empty()) throw format_error(path + ": empty (expected a header and one line per image)");
  const auto columns = header_columns(path, lines[0]);
  const size_t needed = std::max({columns.at("img_filename"), columns.at("y"), columns.at("split"),
                                  columns.at("place")}) + 1;

  BadEntryPolicy policy(skip_bad_entries);
  std::vector<std::string> species_folders;  // index: species id − 1, from every split
  std::vector<std::pair<std::string, Row>> rows;
  for (size_t n = 1; n < lines.size(); ++n) {
    if (lines[n].empty()) continue;
    const std::string where = path + ":" + std::to_string(n + 1);
    const auto fields = split_csv_line(lines[n]);
    if (fields.size() < needed) {
      policy.report(where, "expected " + std::to_string(columns.size()) + " fields, got " +
                               std::to_string(fields.size()));
      continue;
    }
    Row row;
    row.file = fields[columns.at("img_filename")];
    const int y = small_code(fields[columns.at("y")], 1);
    const int place = small_code(fields[columns.at("place")], 1);
    row.split = small_code(fields[columns.at("split")], 2);
    const size_t dot = row.file.find('.');
    const size_t slash = row.file.find('/');
    int64_t species = 0;
    try {
      species = dot != std::string::npos && dot > 0 ? std::stoll(row.file.substr(0, dot)) : 0;
    } catch (const std::exception&) {
      species = 0;
    }
    if (y < 0 || place < 0 || row.split < 0 || species < 1 || species > 10000 || slash == std::string::npos ||
        slash < dot) {
      policy.report(where, "expected y and place 0 or 1, split 0, 1 or 2, and img_filename '<NNN>.<Species>/<file>', "
                           "got '" + lines[n] + "'");
      continue;
    }
    row.species = species;
    row.group = 2 * y + place;
    if (species_folders.size() < static_cast<size_t>(species)) species_folders.resize(static_cast<size_t>(species));
    species_folders[static_cast<size_t>(species - 1)] = row.file.substr(0, slash);
    rows.emplace_back(where, std::move(row));
  }

  std::vector<std::string> class_names;
  for (size_t id = 0; id < species_folders.size(); ++id) {
    if (species_folders[id].empty())
      throw format_error(path + ": no image of species " + std::to_string(id + 1) + " (species ids must run 1.." +
                         std::to_string(species_folders.size()) + " without gaps)");
    class_names.push_back(cub_class_name(species_folders[id]));
  }

  FileListBuilder entries(policy, verify_images);
  if (groups) groups->clear();
  const int split_code = static_cast<int>(wanted - splits.begin());
  for (const auto& [where, row] : rows) {
    if (row.split != split_code && split != "all") continue;
    const size_t before = entries.size();
    entries.add(where, root + "/" + row.file, row.species - 1);
    if (groups && entries.size() > before) groups->push_back(row.group);
  }
  return entries.build("waterbirds " + split + " (" + root + ")", std::move(class_names), "bird", path, split);
}

}  // namespace dmx::data
