#include "diffmix/sd_pretrain/latent_cache.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/progress.hpp"

#include <algorithm>
#include <vector>

namespace dmx::pretrain {

LatentCache LatentCache::encode(const sd::AutoencoderKL& vae, const TrainingImages& images, int64_t batch_size) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> means, stds;
  Progress progress("encode latents", static_cast<uint64_t>(images.size()), "image");
  for (int64_t begin = 0; begin < images.size(); begin += batch_size) {
    throw_if_cancelled("encoding the training images");
    const auto end = std::min(images.size(), begin + batch_size);
    const auto posterior = vae.encode(images.batch(at::arange(begin, end, at::kLong)).to(vae.device()));
    means.push_back(posterior.mean().to(at::kCPU, at::kFloat));
    stds.push_back(posterior.std().to(at::kCPU, at::kFloat));
    progress.advance(static_cast<uint64_t>(end - begin));
  }
  progress.finish();
  LatentCache cache;
  cache.mean_ = at::cat(means);
  cache.std_ = at::cat(stds);
  return cache;
}

std::vector<int64_t> LatentCache::latent_shape() const {
  return {mean_.size(1), mean_.size(2), mean_.size(3)};
}

double LatentCache::scaling_factor(at::Generator generator) const {
  const auto samples = mean_ + std_ * at::randn(mean_.sizes(), generator, at::kFloat);
  return 1.0 / samples.to(at::kDouble).std().item<double>();
}

at::Tensor LatentCache::sample(const at::Tensor& indices, const at::Tensor& noise) const {
  return mean_.index_select(0, indices) + std_.index_select(0, indices) * noise;
}

}  // namespace dmx::pretrain
