// Pixel-range conversions around the VAE.
#include "diffmix/sd/image_processor.hpp"

#include "diffmix/error.hpp"

#include <string>

namespace dmx::sd {
namespace {

void require_nchw_rgb(const at::Tensor& images, const char* what) {
  if (images.dim() != 4 || images.size(1) != 3 || !at::isFloatingType(images.scalar_type()))
    throw shape_error(std::string(what) + ": expected float images [N, 3, H, W], got " +
                      std::string(images.toString()) + " " + c10::str(images.sizes()));
}

}  // namespace

at::Tensor images_from_uint8(const at::Tensor& images) {
  const auto batch = images.dim() == 3 ? images.unsqueeze(0) : images;
  if (batch.dim() != 4 || batch.size(3) != 3 || batch.scalar_type() != at::kByte)
    throw shape_error("images_from_uint8: expected uint8 [H, W, 3] or [N, H, W, 3], got " +
                      std::string(images.toString()) + " " + c10::str(images.sizes()));
  // As PIL -> numpy in diffusers: float32(x) / 255.
  return batch.permute({0, 3, 1, 2}).to(at::kFloat).div(255.0f).contiguous();
}

at::Tensor normalize_images(const at::Tensor& images) {
  require_nchw_rgb(images, "normalize_images");
  return images * 2.0f - 1.0f;
}

at::Tensor postprocess_images(const at::Tensor& decoded) {
  require_nchw_rgb(decoded, "postprocess_images");
  return (decoded.to(at::kFloat) / 2.0f + 0.5f).clamp(0.0, 1.0).permute({0, 2, 3, 1}).contiguous();
}

at::Tensor images_to_uint8(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(3) != 3)
    throw shape_error("images_to_uint8: expected float images [N, H, W, 3], got " + c10::str(images.sizes()));
  return (images.to(at::kFloat) * 255.0f).round().clamp(0.0, 255.0).to(at::kByte);
}

at::Tensor resize_images(const at::Tensor& images, int64_t height, int64_t width) {
  require_nchw_rgb(images, "resize_images");
  if (height < 1 || width < 1)
    throw invalid_argument("resize_images: target size " + std::to_string(height) + "x" + std::to_string(width) +
                           " must be positive");
  if (images.size(2) == height && images.size(3) == width) return images;
  const bool shrinking = height < images.size(2) || width < images.size(3);
  const auto input = images.to(at::kFloat).contiguous();
  return shrinking ? at::_upsample_bilinear2d_aa(input, {height, width}, /*align_corners=*/false)
                   : at::upsample_bilinear2d(input, {height, width}, /*align_corners=*/false);
}

}  // namespace dmx::sd
