// Pascal VOC 2012 as a classification set, built the way DA-Fusion (and Diff-Mix after it) build it: the images of
// ImageSets/Segmentation/<split>.txt, each labelled with the class of its largest object, the object instance with
// the most pixels in SegmentationObject/<id>.png, whose class is read from SegmentationClass/<id>.png. Both masks use
// VOC's colour palette (index 0 background, 255 the void border), so they are decoded as RGB and mapped back to
// palette indices.
#include <array>
#include <map>
#include <memory>

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

constexpr int kBackground = 0;
constexpr int kVoid = 255;

// VOC's palette: the bits of index i spread over the top bits of R, G and B.
std::array<std::array<uint8_t, 3>, 256> voc_palette() {
  std::array<std::array<uint8_t, 3>, 256> palette{};
  for (int i = 0; i < 256; ++i) {
    int c = i;
    for (int j = 0; j < 8; ++j, c >>= 3)
      for (int channel = 0; channel < 3; ++channel)
        palette[i][channel] |= static_cast<uint8_t>(((c >> channel) & 1) << (7 - j));
  }
  return palette;
}

// The palette index of every pixel of a VOC mask (H×W); a colour outside the palette is a format error.
std::vector<uint8_t> palette_indices(const std::string& path) {
  static const auto palette = voc_palette();
  static const auto index_of = [] {
    std::map<uint32_t, uint8_t> map;
    for (int i = 0; i < 256; ++i) map[(uint32_t{palette[i][0]} << 16) | (uint32_t{palette[i][1]} << 8) | palette[i][2]] =
        static_cast<uint8_t>(i);
    return map;
  }();
  io::DecodeOptions options;
  options.channels = 3;
  const at::Tensor rgb = io::read_image(path, options).contiguous();
  const auto* pixels = rgb.data_ptr<uint8_t>();
  std::vector<uint8_t> indices(static_cast<size_t>(rgb.size(0) * rgb.size(1)));
  uint32_t last_colour = ~0u;
  uint8_t last_index = 0;
  for (size_t p = 0; p < indices.size(); ++p) {
    const uint32_t colour = (uint32_t{pixels[3 * p]} << 16) | (uint32_t{pixels[3 * p + 1]} << 8) | pixels[3 * p + 2];
    if (colour != last_colour) {
      const auto found = index_of.find(colour);
      if (found == index_of.end())
        throw format_error(path + ": pixel " + std::to_string(p) + " has a colour outside VOC's palette");
      last_colour = colour;
      last_index = found->second;
    }
    indices[p] = last_index;
  }
  return indices;
}

// The class index (0-based) of the image's largest object, or a reason why there is none.
int64_t largest_object_class(const std::string& class_mask, const std::string& object_mask, int64_t class_count) {
  const auto classes = palette_indices(class_mask);
  const auto objects = palette_indices(object_mask);
  if (classes.size() != objects.size())
    throw format_error(object_mask + ": not the size of " + class_mask);
  std::array<int64_t, 256> pixels{};
  std::array<size_t, 256> first{};
  for (size_t p = objects.size(); p-- > 0;) {
    ++pixels[objects[p]];
    first[objects[p]] = p;
  }
  int best = -1;
  for (int instance = 1; instance < kVoid; ++instance)
    if (pixels[instance] > 0 && (best < 0 || pixels[instance] > pixels[best])) best = instance;
  if (best < 0) throw format_error(object_mask + ": no object (only background and void)");
  const int cls = classes[first[static_cast<size_t>(best)]];
  if (cls == kBackground || cls == kVoid || cls > class_count)
    throw format_error(class_mask + ": the largest object (instance " + std::to_string(best) + " of " + object_mask +
                       ") has class index " + std::to_string(cls) + ", not one of 1.." + std::to_string(class_count));
  return cls - 1;
}

}  // namespace

const std::vector<std::string>& pascal_voc_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "bicycle", "bird",  "boat",         "bottle", "bus",    "car",   "cat",   "chair", "cow",
      "dining table", "dog", "horse", "motorcycle", "person", "potted plant", "sheep", "sofa", "train", "television"};
  return names;
}

DatasetPtr open_pascal_voc(const std::string& root, const std::string& split, bool skip_bad_entries,
                           bool verify_images) {
  if (split != "train" && split != "val")
    throw invalid_argument("pascal-voc: unknown split '" + split + "' (expected train or val)");
  const std::string list = root + "/ImageSets/Segmentation/" + split + ".txt";
  const auto ids = read_lines(list);
  const auto& names = pascal_voc_class_names();
  BadEntryPolicy policy(skip_bad_entries);
  FileListBuilder entries(policy, verify_images);
  for (size_t n = 0; n < ids.size(); ++n) {
    if (ids[n].find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = list + ":" + std::to_string(n + 1);
    const std::string& id = ids[n];
    int64_t label = 0;
    try {
      label = largest_object_class(root + "/SegmentationClass/" + id + ".png",
                                   root + "/SegmentationObject/" + id + ".png", static_cast<int64_t>(names.size()));
    } catch (const Error& error) {
      policy.report(where, "image " + id + ": " + error.what());
      continue;
    }
    entries.add(where, root + "/JPEGImages/" + id + ".jpg", label);
  }
  return entries.build("pascal-voc " + split + " (" + root + ")", names, "object", list, split);
}

}  // namespace dmx::data
