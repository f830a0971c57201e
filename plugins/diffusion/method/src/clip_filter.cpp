#include "diffmix/diffusion/clip_filter.hpp"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "diffmix/error.hpp"

namespace dmx::diffusion {
namespace {

at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, {-1}, true); }

// Sorting key of a score: NaN below everything, so a broken image is the first to go.
bool scores_before(float a, float b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a < b;
}

}  // namespace

std::array<std::string, 2> clip_filter_captions(const std::string& metaclass) {
  if (metaclass.empty())
    throw invalid_argument("CLIP filter: the dataset has no metaclass (bird, car, ...) to write the captions with");
  return {"a photo with a " + metaclass + " on it", "a photo without a " + metaclass + " on it"};
}

ClipFilter ClipFilter::load(const std::string& folder, const std::string& metaclass, at::Device device) {
  return ClipFilter(sd::CLIPModel::load(folder, at::kFloat, device), sd::CLIPTokenizer::load(folder),
                    sd::CLIPImageProcessor::load(folder + "/preprocessor_config.json"), metaclass);
}

ClipFilter::ClipFilter(sd::CLIPModel model, const sd::CLIPTokenizer& tokenizer, sd::CLIPImageProcessor processor,
                       const std::string& metaclass)
    : model_(std::move(model)), processor_(std::move(processor)), captions_(clip_filter_captions(metaclass)) {
  c10::InferenceMode inference;
  const auto batch = tokenizer.encode_batch({captions_[0], captions_[1]});
  const auto device = model_.logit_scale().device();
  caption_embeddings_ =
      l2_normalize(model_.get_text_features(batch.input_ids.to(device), batch.attention_mask.to(device)));
}

at::Tensor ClipFilter::score_pixels(const at::Tensor& pixel_values) const {
  c10::InferenceMode inference;
  const auto& scale = model_.logit_scale();
  const at::Tensor pixels = pixel_values.to(scale.device(), scale.scalar_type());
  const at::Tensor image_embeds = l2_normalize(model_.get_image_features(pixels));
  // logits_per_image of transformers' CLIPModel, against the two captions only.
  const at::Tensor logits = at::matmul(image_embeds, caption_embeddings_.t()) * scale.exp();
  return logits.to(at::kFloat).softmax(-1).select(1, 0).cpu();
}

std::vector<float> ClipFilter::score(const std::vector<at::Tensor>& images) const {
  if (images.empty()) return {};
  const at::Tensor p_with = score_pixels(processor_.preprocess(images)).contiguous();
  return std::vector<float>(p_with.data_ptr<float>(), p_with.data_ptr<float>() + p_with.numel());
}

std::vector<int64_t> select_kept(const std::vector<float>& scores, double drop_fraction) {
  if (!(drop_fraction >= 0.0 && drop_fraction < 1.0))
    throw invalid_argument("CLIP filter: drop fraction " + std::to_string(drop_fraction) + " outside [0, 1)");
  const auto n = static_cast<int64_t>(scores.size());
  // The small epsilon keeps 0.1 · 30 (= 3.0000000000000004 or 2.9999999999999996 in binary) at 3.
  const auto dropped = static_cast<int64_t>(std::floor(drop_fraction * static_cast<double>(n) + 1e-9));

  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return scores_before(scores[static_cast<size_t>(a)], scores[static_cast<size_t>(b)]);
  });
  std::vector<int64_t> kept(order.begin() + dropped, order.end());
  std::sort(kept.begin(), kept.end());
  return kept;
}

}  // namespace dmx::diffusion
