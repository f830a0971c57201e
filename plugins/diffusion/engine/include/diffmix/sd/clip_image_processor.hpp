// transformers' CLIPImageProcessor, read from preprocessor_config.json: RGB conversion, resize of the shortest edge
// (Pillow-exact bicubic), center crop, rescale to [0, 1] and per-channel normalisation.
//
//   auto processor = CLIPImageProcessor::load(clip_folder + "/preprocessor_config.json");
//   at::Tensor pixel_values = processor.preprocess({image_a, image_b});   // [2, 3, S, S] float32
#pragma once

#include "diffmix/sd/config_file.hpp"

#include <ATen/ATen.h>

#include <array>
#include <string>
#include <vector>

namespace dmx::sd {

class CLIPImageProcessor {
 public:
  static CLIPImageProcessor load(const std::string& preprocessor_config_path);
  static CLIPImageProcessor read(const ConfigFile& config);

  // One uint8 [H, W, C] image (C = 1, 3 or 4) -> float32 [3, crop_height, crop_width].
  at::Tensor preprocess(const at::Tensor& image) const;
  // Images of any sizes -> [B, 3, crop_height, crop_width].
  at::Tensor preprocess(const std::vector<at::Tensor>& images) const;

  int64_t crop_height() const { return crop_height_; }
  int64_t crop_width() const { return crop_width_; }

 private:
  at::Tensor resize(const at::Tensor& image) const;
  at::Tensor center_crop(const at::Tensor& image) const;

  bool do_convert_rgb_ = true, do_resize_ = true, do_center_crop_ = true, do_rescale_ = true, do_normalize_ = true;
  int64_t shortest_edge_ = 224;
  bool bicubic_ = true;  // resample 3 (bicubic) or 2 (bilinear)
  int64_t crop_height_ = 224, crop_width_ = 224;
  double rescale_factor_ = 1.0 / 255.0;
  std::array<float, 3> mean_{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std_{0.26862954f, 0.26130258f, 0.27577711f};
};

}  // namespace dmx::sd
