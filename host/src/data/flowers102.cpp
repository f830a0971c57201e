// Oxford Flowers 102 as distributed: jpg/image_00001.jpg ..., imagelabels.mat (labels: the class of image k at
// position k, 1-based) and setid.mat (trnid, valid, tstid: image numbers of the official train, val and test sets).
// The class names are the 102 the Diff-Mix and DA-Fusion authors write, in label order.
#include <cstdio>
#include <memory>

#include "../io/mat_file.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {

const std::vector<std::string>& flowers102_class_names() {
  static const std::vector<std::string> names = {
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea", "english marigold",
    "tiger lily", "moon orchid", "bird of paradise", "monkshood", "globe thistle", "snapdragon", "colt's foot",
    "king protea", "spear thistle", "yellow iris", "globe-flower", "purple coneflower", "peruvian lily",
    "balloon flower", "giant white arum lily", "fire lily", "pincushion flower", "fritillary", "red ginger",
    "grape hyacinth", "corn poppy", "prince of wales feathers", "stemless gentian", "artichoke", "sweet william",
    "carnation", "garden phlox", "love in the mist", "mexican aster", "alpine sea holly", "ruby-lipped cattleya",
    "cape flower", "great masterwort", "siam tulip", "lenten rose", "barbeton daisy", "daffodil", "sword lily",
    "poinsettia", "bolero deep blue", "wallflower", "marigold", "buttercup", "oxeye daisy", "common dandelion",
    "petunia", "wild pansy", "primula", "sunflower", "pelargonium", "bishop of llandaff", "gaura", "geranium",
    "orange dahlia", "pink-yellow dahlia", "cautleya spicata", "japanese anemone", "black-eyed susan",
    "silverbush", "californian poppy", "osteospermum", "spring crocus", "bearded iris", "windflower", "tree poppy",
    "gazania", "azalea", "water lily", "rose", "thorn apple", "morning glory", "passion flower", "lotus",
    "toad lily", "anthurium", "frangipani", "clematis", "hibiscus", "columbine", "desert-rose", "tree mallow",
    "magnolia", "cyclamen", "watercress", "canna lily", "hippeastrum", "bee balm", "ball moss", "foxglove",
    "bougainvillea", "camellia", "mallow", "mexican petunia", "bromelia", "blanket flower", "trumpet creeper",
    "blackberry lily"
  };
  return names;
}

namespace {

// The image numbers of `split`: one of setid.mat's lists, or train and val together.
std::vector<int64_t> split_images(const io::MatFile& setid, const std::string& split) {
  if (split == "train") return setid.integers("trnid");
  if (split == "val") return setid.integers("valid");
  if (split == "test") return setid.integers("tstid");
  auto ids = setid.integers("trnid");
  const auto val = setid.integers("valid");
  ids.insert(ids.end(), val.begin(), val.end());
  return ids;
}

std::string image_path(const std::string& root, int64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "/jpg/image_%05lld.jpg", static_cast<long long>(number));
  return root + name;
}

}  // namespace

DatasetPtr open_flowers102(const std::string& root, const std::string& split, bool skip_bad_entries,
                           bool verify_images) {
  if (split != "train" && split != "val" && split != "trainval" && split != "test")
    throw invalid_argument("flowers102: unknown split '" + split + "' (expected train, val, trainval or test)");
  const auto labels_file = io::MatFile::open(root + "/imagelabels.mat");
  const auto labels = labels_file.integers("labels");
  const auto setid = io::MatFile::open(root + "/setid.mat");
  const auto images = split_images(setid, split);

  const auto& names = flowers102_class_names();
  const auto class_count = static_cast<int64_t>(names.size());
  BadEntryPolicy policy(skip_bad_entries);
  FileListBuilder entries(policy, verify_images);
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = setid.path() + ": image " + std::to_string(images[i]) + " of split '" + split + "'";
    if (images[i] < 1 || images[i] > static_cast<int64_t>(labels.size())) {
      policy.report(where, "is not an image number of " + labels_file.path() + " (1.." +
                               std::to_string(labels.size()) + ")");
      continue;
    }
    const int64_t label = labels[static_cast<size_t>(images[i] - 1)];
    if (label < 1 || label > class_count) {
      policy.report(labels_file.path() + ": label of image " + std::to_string(images[i]),
                    std::to_string(label) + " is not in [1, " + std::to_string(class_count) + "]");
      continue;
    }
    entries.add(where, image_path(root, images[i]), label - 1);
  }
  return entries.build("flowers102 " + split + " (" + root + ")", names, "flower", setid.path(), split);
}

}  // namespace dmx::data
