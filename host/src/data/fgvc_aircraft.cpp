// FGVC-Aircraft (fgvc-aircraft-2013b) as distributed, at the variant level the Diff-Mix paper classifies:
//   data/variants.txt                       the 100 variant names, one per line, in class order
//   data/images_variant_<split>.txt         "<image id> <variant name>" per line (the name may contain spaces)
//   data/images/<image id>.jpg
// `root` is the folder that holds data/, or data/ itself. Class names have '/' written as a space ("F A-18"), as in
// the authors' copy of the dataset.
#include <map>
#include <memory>

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

std::string authors_aircraft_name(std::string name) {
  for (char& c : name)
    if (c == '/') c = ' ';
  return name;
}

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

}  // namespace

DatasetPtr open_fgvc_aircraft(const std::string& root, const std::string& split, bool skip_bad_entries,
                              bool verify_images) {
  if (split != "train" && split != "val" && split != "trainval" && split != "test")
    throw invalid_argument("fgvc-aircraft: unknown split '" + split + "' (expected train, val, trainval or test)");
  const std::string data = first_existing({root + "/data/variants.txt", root + "/variants.txt"});
  const std::string folder = data.substr(0, data.rfind('/'));
  const std::string variants_file = folder + "/variants.txt";

  std::vector<std::string> class_names;
  std::map<std::string, int64_t> class_of;
  const auto variants = read_lines(variants_file);
  for (size_t n = 0; n < variants.size(); ++n) {
    if (is_blank(variants[n])) continue;
    if (!class_of.emplace(variants[n], static_cast<int64_t>(class_names.size())).second)
      throw format_error(variants_file + ":" + std::to_string(n + 1) + ": variant '" + variants[n] + "' appears twice");
    class_names.push_back(authors_aircraft_name(variants[n]));
  }
  if (class_names.empty()) throw format_error(variants_file + ": no variants");

  const std::string list_file = folder + "/images_variant_" + split + ".txt";
  BadEntryPolicy policy(skip_bad_entries);
  FileListBuilder entries(policy, verify_images);
  const auto lines = read_lines(list_file);
  for (size_t n = 0; n < lines.size(); ++n) {
    if (is_blank(lines[n])) continue;
    const std::string where = list_file + ":" + std::to_string(n + 1);
    const size_t space = lines[n].find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == lines[n].size()) {
      policy.report(where, "expected '<image id> <variant>', got '" + lines[n] + "'");
      continue;
    }
    const std::string variant = lines[n].substr(space + 1);
    const auto found = class_of.find(variant);
    if (found == class_of.end()) {
      policy.report(where, "variant '" + variant + "' is not in " + variants_file);
      continue;
    }
    entries.add(where, folder + "/images/" + lines[n].substr(0, space) + ".jpg", found->second);
  }
  return entries.build("fgvc-aircraft " + split + " (" + root + ")", std::move(class_names), "aircraft", list_file,
                       split);
}

}  // namespace dmx::data
