#include "diffmix/sd_finetune/latent_dataset.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/data/sample_rng.hpp"
#include "diffmix/data/transforms.hpp"
#include "diffmix/error.hpp"
#include "diffmix/progress.hpp"

#include <algorithm>
#include <cmath>

namespace dmx::finetune {
namespace {

// Centred trim of one spatial dimension to a multiple of `multiple` (at most multiple - 1 pixels go).
at::Tensor trim_to_multiple(const at::Tensor& chw, int64_t dim, int64_t multiple) {
  const auto size = chw.size(dim);
  const auto kept = size / multiple * multiple;
  return chw.narrow(dim, (size - kept) / 2, kept);
}

}  // namespace

LatentDataset LatentDataset::encode(const data::Dataset& dataset, const sd::AutoencoderKL& vae, int64_t resolution) {
  if (dataset.size() == 0) throw dmx::invalid_argument(dataset.name() + ": no images to fine-tune on");
  const auto f = vae.downsampling_factor();
  if (resolution % f != 0) {
    throw dmx::invalid_argument("resolution " + std::to_string(resolution) + " must be a multiple of the VAE's " +
                                "downsampling factor " + std::to_string(f));
  }
  at::NoGradGuard no_grad;
  data::Transforms resize;
  resize.resize(resolution);
  data::ImageRequest request;
  request.channels = 3;
  request.min_size = resolution;
  // Resize draws nothing; the generator is there because apply() takes one.
  data::SampleRng unused_rng(0, data::RandomStream::Transform, 0, 0);

  LatentDataset out;
  out.scaling_factor_ = vae.scaling_factor();
  out.crop_cells_ = resolution / f;
  Progress progress("encode training images", static_cast<uint64_t>(dataset.size()), "image");
  for (int64_t i = 0; i < dataset.size(); ++i) {
    throw_if_cancelled("encoding training images");
    auto image = resize.apply(dataset.load_image(i, request), unused_rng) * 2.0 - 1.0;
    image = trim_to_multiple(trim_to_multiple(image, 1, f), 2, f);
    const auto pair = at::stack({image, image.flip({2})}).to(vae.device(), vae.dtype());
    const auto posterior = vae.encode(pair);
    out.mean_.push_back(posterior.mean().to(at::kCPU, at::kFloat));
    out.std_.push_back(posterior.std().to(at::kCPU, at::kFloat));
    out.labels_.push_back(dataset.label(i));
    progress.advance(1);
  }
  progress.finish();
  return out;
}

std::vector<int64_t> LatentDataset::latent_shape() const {
  return {mean_.front().size(1), crop_cells_, crop_cells_};
}

std::vector<int64_t> LatentDataset::image_latent_shape(int64_t index) const {
  const auto sizes = mean_.at(static_cast<size_t>(index)).sizes();
  return {sizes.begin(), sizes.end()};
}

std::pair<int64_t, int64_t> LatentDataset::crop_origin(int64_t index, double u_y, double u_x) const {
  const auto& mean = mean_.at(static_cast<size_t>(index));
  // Uniform over the max + 1 positions, as RandomCrop draws its offset; the min guards u == 1 from rounding.
  const auto origin = [&](int64_t extent, double u) {
    const auto max = extent - crop_cells_;
    return std::min(max, static_cast<int64_t>(std::floor(u * static_cast<double>(max + 1))));
  };
  return {origin(mean.size(2), u_y), origin(mean.size(3), u_x)};
}

at::Tensor LatentDataset::sample(const LatentDraw& draw, at::Device device) const {
  const auto batch = draw.indices.numel();
  if (draw.flips.numel() != batch || draw.crop_draws.sizes() != at::IntArrayRef{batch, 2} ||
      draw.noise.size(0) != batch) {
    throw dmx::shape_error("latent draw: indices " + c10::str(draw.indices.sizes()) + ", flips " +
                           c10::str(draw.flips.sizes()) + ", crop draws " + c10::str(draw.crop_draws.sizes()) +
                           " and noise " + c10::str(draw.noise.sizes()) + " must describe the same examples");
  }
  const auto indices = draw.indices.to(at::kLong).contiguous();
  const auto flips = draw.flips.to(at::kLong).contiguous();
  const auto crops = draw.crop_draws.to(at::kDouble).contiguous();
  std::vector<at::Tensor> means, stds;
  for (int64_t b = 0; b < batch; ++b) {
    const auto index = indices.data_ptr<int64_t>()[b];
    if (index < 0 || index >= size()) {
      throw dmx::invalid_argument("latent draw: image index " + std::to_string(index) + " is outside the " +
                                  std::to_string(size()) + " encoded images");
    }
    const auto flip = flips.data_ptr<int64_t>()[b] != 0 ? 1 : 0;
    const auto origin = crop_origin(index, crops.data_ptr<double>()[2 * b], crops.data_ptr<double>()[2 * b + 1]);
    const int64_t top = origin.first, left = origin.second;  // not a structured binding: lambdas capture it (C++17)
    const auto crop = [&](const at::Tensor& t) {
      return t[flip].narrow(1, top, crop_cells_).narrow(2, left, crop_cells_);
    };
    means.push_back(crop(mean_[static_cast<size_t>(index)]));
    stds.push_back(crop(std_[static_cast<size_t>(index)]));
  }
  return ((at::stack(means) + at::stack(stds) * draw.noise) * scaling_factor_).to(device);
}

}  // namespace dmx::finetune
