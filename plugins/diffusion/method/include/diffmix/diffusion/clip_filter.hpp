// The CLIP filter of Diff-Mix (supplementary §7.1): inter-class edits sometimes lose the object (a bird with half a
// body), so every synthetic image is scored by CLIP against two captions,
//   "a photo with a {metaclass} on it"   and   "a photo without a {metaclass} on it",
// the score being the softmax probability of the first; the lowest 10 % of a cache are dropped (no replacements are
// generated).
//
//   auto filter = dmx::diffusion::ClipFilter::load("models/clip-vit-base-patch32", "bird");
//   std::vector<float> scores = filter.score({image_a, image_b});   // uint8 H×W×C, any sizes
//   std::vector<int64_t> kept = dmx::diffusion::select_kept(all_scores);
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/sd/clip_image_processor.hpp"
#include "diffmix/sd/clip_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"

namespace dmx::diffusion {

inline constexpr double kDefaultDropFraction = 0.10;

// {"a photo with a {metaclass} on it", "a photo without a {metaclass} on it"}; an empty metaclass is an
// InvalidArgument error.
std::array<std::string, 2> clip_filter_captions(const std::string& metaclass);

class ClipFilter {
 public:
  // A transformers CLIPModel folder (CLIP ViT-B/32 for the paper): config.json, model.safetensors, vocab.json,
  // merges.txt and preprocessor_config.json.
  static ClipFilter load(const std::string& folder, const std::string& metaclass, at::Device device = at::kCPU);
  // Encodes the two captions once; the model's device and dtype are those of its weights.
  ClipFilter(sd::CLIPModel model, const sd::CLIPTokenizer& tokenizer, sd::CLIPImageProcessor processor,
             const std::string& metaclass);

  // P(with) for each image (uint8 H×W×C, C = 1, 3 or 4), in order; values in [0, 1].
  std::vector<float> score(const std::vector<at::Tensor>& images) const;
  // The same for images already through the processor: [B, 3, S, S] float.
  at::Tensor score_pixels(const at::Tensor& pixel_values) const;

  const std::array<std::string, 2>& captions() const { return captions_; }
  // [2, projection_dim], L2-normalised: "with" then "without".
  const at::Tensor& caption_embeddings() const { return caption_embeddings_; }

 private:
  sd::CLIPModel model_;
  sd::CLIPImageProcessor processor_;
  std::array<std::string, 2> captions_;
  at::Tensor caption_embeddings_;
};

// The indices to keep, ascending: all but the ⌊drop_fraction · n⌋ lowest scores (20 scores, 0.1 → 18 kept). Equal
// scores are dropped lowest index first, and a NaN score counts as the lowest, so the choice is deterministic.
// drop_fraction outside [0, 1) is an InvalidArgument error.
std::vector<int64_t> select_kept(const std::vector<float>& scores, double drop_fraction = kDefaultDropFraction);

}  // namespace dmx::diffusion
