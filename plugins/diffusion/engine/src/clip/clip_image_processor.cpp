#include "diffmix/sd/clip_image_processor.hpp"

#include "pil_resample.hpp"

#include "diffmix/error.hpp"

namespace dmx::sd {

namespace {

std::array<float, 3> three_numbers(const ConfigFile& config, const std::string& key, std::array<float, 3> fallback) {
  if (!config.has_value(key)) return fallback;
  const auto values = config.numbers(key);
  if (values.size() != 3) {
    throw dmx::config_error(config.source() + ": key '" + key + "' must hold 3 numbers (one per RGB channel)");
  }
  return {static_cast<float>(values[0]), static_cast<float>(values[1]), static_cast<float>(values[2])};
}

}  // namespace

CLIPImageProcessor CLIPImageProcessor::load(const std::string& preprocessor_config_path) {
  return read(ConfigFile::open(preprocessor_config_path));
}

CLIPImageProcessor CLIPImageProcessor::read(const ConfigFile& config) {
  CLIPImageProcessor p;
  p.do_convert_rgb_ = config.boolean("do_convert_rgb", true);
  p.do_resize_ = config.boolean("do_resize", true);
  p.do_center_crop_ = config.boolean("do_center_crop", true);
  p.do_rescale_ = config.boolean("do_rescale", true);
  p.do_normalize_ = config.boolean("do_normalize", true);
  if (config.has_value("size")) {
    const auto& size = config.json().at("size");
    p.shortest_edge_ = size.is_number_integer() ? size.get<int64_t>() : config.section("size").integer("shortest_edge");
  }
  const auto resample = config.integer("resample", 3);
  if (resample != 3 && resample != 2) {
    throw dmx::unsupported(config.source() + ": resample " + std::to_string(resample) +
                           " is not supported (3 = bicubic, 2 = bilinear)");
  }
  p.bicubic_ = resample == 3;
  if (config.has_value("crop_size")) {
    const auto& crop = config.json().at("crop_size");
    if (crop.is_number_integer()) {
      p.crop_height_ = p.crop_width_ = crop.get<int64_t>();
    } else {
      const auto section = config.section("crop_size");
      p.crop_height_ = section.integer("height");
      p.crop_width_ = section.integer("width");
    }
  }
  if (p.shortest_edge_ <= 0 || p.crop_height_ <= 0 || p.crop_width_ <= 0) {
    throw dmx::config_error(config.source() + ": size and crop_size must be positive");
  }
  p.rescale_factor_ = config.number("rescale_factor", 1.0 / 255.0);
  p.mean_ = three_numbers(config, "image_mean", p.mean_);
  p.std_ = three_numbers(config, "image_std", p.std_);
  return p;
}

// The short side becomes shortest_edge, the long side int(shortest_edge · long / short) (truncated).
at::Tensor CLIPImageProcessor::resize(const at::Tensor& image) const {
  const auto height = image.size(0), width = image.size(1);
  const auto short_side = std::min(height, width), long_side = std::max(height, width);
  const auto new_long = static_cast<int64_t>(static_cast<double>(shortest_edge_) * static_cast<double>(long_side) /
                                             static_cast<double>(short_side));
  const auto out_height = width <= height ? new_long : shortest_edge_;
  const auto out_width = width <= height ? shortest_edge_ : new_long;
  if (out_height == height && out_width == width) return image;
  return pil_resize(image, out_height, out_width, bicubic_ ? PilFilter::Bicubic : PilFilter::Bilinear);
}

// The centered crop_height × crop_width window. A side shorter than the crop is first padded with zeros around its
// center (the extra pixel, if any, goes before), and the crop then covers the whole padded side.
at::Tensor CLIPImageProcessor::center_crop(const at::Tensor& image) const {
  const auto height = image.size(0), width = image.size(1);
  auto source = image;
  if (height < crop_height_ || width < crop_width_) {
    const auto new_height = std::max(height, crop_height_), new_width = std::max(width, crop_width_);
    source = at::zeros({new_height, new_width, image.size(2)}, image.options());
    source.narrow(0, (new_height - height + 1) / 2, height).narrow(1, (new_width - width + 1) / 2, width).copy_(image);
  }
  const auto top = (source.size(0) - crop_height_) / 2;
  const auto left = (source.size(1) - crop_width_) / 2;
  return source.narrow(0, top, crop_height_).narrow(1, left, crop_width_);
}

at::Tensor CLIPImageProcessor::preprocess(const at::Tensor& image) const {
  if (image.dim() != 3 || image.scalar_type() != at::kByte || image.size(0) < 1 || image.size(1) < 1 ||
      (image.size(2) != 1 && image.size(2) != 3 && image.size(2) != 4)) {
    throw dmx::shape_error("CLIPImageProcessor: expected a uint8 [H, W, C] image with C = 1, 3 or 4, got " +
                           std::string(c10::toString(image.scalar_type())) + " " + c10::str(image.sizes()));
  }
  auto x = image.to(at::kCPU);
  if (do_convert_rgb_ || x.size(2) != 3) {  // gray is repeated, alpha dropped, as PIL's convert("RGB")
    x = x.size(2) == 1 ? x.expand({-1, -1, 3}).contiguous() : x.narrow(2, 0, 3).contiguous();
  }
  if (do_resize_) x = resize(x);
  if (do_center_crop_) x = center_crop(x);
  // Rescale in double, then float32, as numpy does; normalise in float32.
  auto values = do_rescale_ ? (x.to(at::kDouble) * rescale_factor_).to(at::kFloat) : x.to(at::kFloat);
  if (do_normalize_) {
    const auto mean = at::tensor(std::vector<float>(mean_.begin(), mean_.end()));
    const auto std = at::tensor(std::vector<float>(std_.begin(), std_.end()));
    values = (values - mean) / std;
  }
  return values.permute({2, 0, 1}).contiguous();
}

at::Tensor CLIPImageProcessor::preprocess(const std::vector<at::Tensor>& images) const {
  std::vector<at::Tensor> out;
  for (const auto& image : images) out.push_back(preprocess(image));
  if (out.empty()) return at::empty({0, 3, crop_height_, crop_width_});
  return at::stack(out);
}

}  // namespace dmx::sd
