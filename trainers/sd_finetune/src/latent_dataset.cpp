#include "diffmix/sd_finetune/latent_dataset.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/data/sample_rng.hpp"
#include "diffmix/data/transforms.hpp"
#include "diffmix/error.hpp"
#include "diffmix/progress.hpp"

#include <algorithm>

namespace dmx::finetune {

LatentDataset LatentDataset::encode(const data::Dataset& dataset, const sd::AutoencoderKL& vae, int64_t resolution,
                                    uint64_t seed, int64_t batch_size) {
  if (dataset.size() == 0) throw dmx::invalid_argument(dataset.name() + ": no images to fine-tune on");
  if (resolution % vae.downsampling_factor() != 0) {
    throw dmx::invalid_argument("resolution " + std::to_string(resolution) + " must be a multiple of the VAE's " +
                                "downsampling factor " + std::to_string(vae.downsampling_factor()));
  }
  at::NoGradGuard no_grad;
  data::Transforms transforms;
  transforms.resize(resolution).random_crop(resolution, resolution);
  data::ImageRequest request;
  request.channels = 3;
  request.min_size = resolution;

  LatentDataset out;
  out.scaling_factor_ = vae.scaling_factor();
  std::vector<at::Tensor> means, stds;
  Progress progress("encode training images", static_cast<uint64_t>(dataset.size()), "image");
  for (int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    throw_if_cancelled("encoding training images");
    const auto end = std::min(dataset.size(), begin + batch_size);
    std::vector<at::Tensor> images;
    for (int64_t i = begin; i < end; ++i) {
      data::SampleRng rng(seed, data::RandomStream::Transform, 0, static_cast<uint64_t>(i));
      const auto image = transforms.apply(dataset.load_image(i, request), rng) * 2.0 - 1.0;
      images.push_back(image);
      images.push_back(image.flip({2}));
      out.labels_.push_back(dataset.label(i));
    }
    const auto batch = at::stack(images).to(vae.device(), vae.dtype());
    const auto posterior = vae.encode(batch);
    const auto per_image = [&](const at::Tensor& t) {
      return t.to(at::kCPU, at::kFloat).reshape({end - begin, 2, t.size(1), t.size(2), t.size(3)});
    };
    means.push_back(per_image(posterior.mean()));
    stds.push_back(per_image(posterior.std()));
    progress.advance(static_cast<uint64_t>(end - begin));
  }
  progress.finish();
  out.mean_ = at::cat(means);
  out.std_ = at::cat(stds);
  return out;
}

std::vector<int64_t> LatentDataset::latent_shape() const {
  return {mean_.size(2), mean_.size(3), mean_.size(4)};
}

at::Tensor LatentDataset::sample(const at::Tensor& indices, const at::Tensor& flips, const at::Tensor& noise,
                                 at::Device device) const {
  // Row index into the flattened [N * 2] view: image * 2 + flip.
  const auto rows = indices * 2 + flips;
  const auto flat_mean = mean_.flatten(0, 1).index_select(0, rows);
  const auto flat_std = std_.flatten(0, 1).index_select(0, rows);
  return ((flat_mean + flat_std * noise) * scaling_factor_).to(device);
}

}  // namespace dmx::finetune
