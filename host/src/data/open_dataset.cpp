// open_dataset(): DatasetSpec → the dataset, with k-shot and long-tail selection applied.
#include <algorithm>
#include <utility>
#include <vector>

#include "diffmix/data/datasets.hpp"
#include "diffmix/data/subsets.hpp"
#include "diffmix/error.hpp"

namespace dmx::data {

const std::vector<std::string>& dataset_kinds() {
  static const std::vector<std::string> kinds = {"fashion-mnist", "image-folder", "cub",          "stanford-cars",
                                                 "flowers102",    "fgvc-aircraft", "stanford-dogs", "waterbirds",
                                                 "pascal-voc"};
  return kinds;
}

namespace {

DatasetPtr open_base(const DatasetSpec& spec) {
  if (spec.kind == "fashion-mnist") return open_fashion_mnist(spec.root, spec.split, spec.skip_bad_entries);
  if (spec.root.empty()) throw invalid_argument("dataset kind '" + spec.kind + "' needs a root folder");
  if (spec.kind == "image-folder")
    return open_image_folder(spec.root, spec.split, spec.metaclass, spec.skip_bad_entries, spec.verify_images);
  if (spec.kind == "cub") return open_cub(spec.root, spec.split, spec.skip_bad_entries, spec.verify_images);
  using Reader = DatasetPtr (*)(const std::string&, const std::string&, bool, bool);
  const std::vector<std::pair<std::string, Reader>> readers = {{"stanford-cars", &open_stanford_cars},
                                                               {"flowers102", &open_flowers102},
                                                               {"fgvc-aircraft", &open_fgvc_aircraft},
                                                               {"stanford-dogs", &open_stanford_dogs},
                                                               {"pascal-voc", &open_pascal_voc}};
  for (const auto& [kind, reader] : readers)
    if (spec.kind == kind) return reader(spec.root, spec.split, spec.skip_bad_entries, spec.verify_images);
  if (spec.kind == "waterbirds")
    return open_waterbirds(spec.root, spec.split, spec.skip_bad_entries, spec.verify_images);
  std::string known;
  for (const auto& kind : dataset_kinds()) known += (known.empty() ? "" : ", ") + kind;
  throw invalid_argument("unknown dataset kind '" + spec.kind + "' (expected one of " + known + ")");
}

// A metaclass given in the spec replaces the kind's default without copying the data.
class RenamedMetaclass : public Subset {
 public:
  RenamedMetaclass(DatasetPtr base, std::string metaclass)
      : Subset(base, all_indices(*base), ""), metaclass_(std::move(metaclass)) {}
  const std::string& metaclass() const override { return metaclass_; }

 private:
  static std::vector<int64_t> all_indices(const Dataset& dataset) {
    std::vector<int64_t> all(static_cast<size_t>(dataset.size()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    return all;
  }
  std::string metaclass_;
};

}  // namespace

DatasetPtr open_dataset(const DatasetSpec& spec) {
  DatasetPtr dataset = open_base(spec);
  if (!spec.metaclass.empty() && spec.metaclass != dataset->metaclass())
    dataset = std::make_shared<RenamedMetaclass>(dataset, spec.metaclass);
  if (spec.shots < 0) throw invalid_argument("dataset shots = " + std::to_string(spec.shots) + " must be >= 0");
  if (spec.shots > 0) dataset = k_shot_subset(dataset, spec.shots, spec.seed);
  if (spec.imbalance != 1.0) dataset = long_tail_subset(dataset, spec.imbalance, spec.seed);
  return dataset;
}

std::optional<EvaluationGroups> evaluation_groups(const DatasetSpec& spec) {
  if (spec.kind != "waterbirds" || spec.shots > 0 || spec.imbalance != 1.0) return std::nullopt;
  EvaluationGroups groups;
  groups.names = waterbirds_group_names();
  open_waterbirds(spec.root, spec.split, spec.skip_bad_entries, spec.verify_images, &groups.group_of);
  return groups;
}

}  // namespace dmx::data
