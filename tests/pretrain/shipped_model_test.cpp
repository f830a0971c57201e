// models/fmnist-sd, the base model that ships with the project: it is what configs/fmnist_pretrain.toml describes,
// it loads through the engine, and it is trained (its VAE reconstructs Fashion-MNIST test images it never saw, and
// text to image makes clothing-like images rather than noise). Its bytes are checked against
// models/fmnist-sd.sha256 by the CTest `pretrain.shipped_model_checksums`.
#include "sd/sd_fixtures.hpp"

#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd_pretrain/model_writer.hpp"
#include "diffmix/sd_pretrain/pretrain_config.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace dmx::test {
namespace {

namespace fs = std::filesystem;

std::string shipped_model() { return source_dir() + "/models/fmnist-sd"; }

pretrain::PretrainConfig shipped_config() {
  const auto document = config::Document::parse_file(source_dir() + "/configs/fmnist_pretrain.toml");
  const auto root = document.root();
  auto config = pretrain::read_pretrain_config(root);
  root.finish();
  return config;
}

nlohmann::json json_of_file(const std::string& path) { return sd::ConfigFile::open(path).json(); }
// The JSON the writer makes (Python's spelling: -Infinity is a value).
nlohmann::json json_of_text(const std::string& text) { return sd::ConfigFile::parse(text, "written").json(); }

// Fashion-MNIST test images as the pretrainer feeds them: [N, 3, 32, 32] in [0, 1].
at::Tensor test_images(int64_t count) {
  const auto test = data::open_fashion_mnist(data::kFashionMnistDefaultRoot, "test");
  std::vector<at::Tensor> images;
  for (int64_t i = 0; i < count; ++i) {
    at::Tensor image = test->load_image(i * 97).permute({2, 0, 1}).to(at::kFloat).div(255.0);
    if (image.size(0) == 1) image = image.expand({3, image.size(1), image.size(2)});
    images.push_back(image);
  }
  return at::upsample_bilinear2d(at::stack(images), {32, 32}, /*align_corners=*/false).clamp(0.0, 1.0);
}

class ShippedModel : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(shipped_model() + "/model_index.json"))
        << shipped_model() << " is missing: `diffmix pretrain configs/fmnist_pretrain.toml` makes it";
  }
};

TEST_F(ShippedModel, ConfigsAreWhatTheShippedPretrainConfigDescribes) {
  const auto config = shipped_config();
  EXPECT_EQ(config.output_dir, "models/fmnist-sd");
  EXPECT_EQ(json_of_file(shipped_model() + "/unet/config.json"),
            json_of_text(pretrain::unet_config_json(config.architecture)));
  const auto vae = json_of_file(shipped_model() + "/vae/config.json");
  const double scaling_factor = vae.at("scaling_factor").get<double>();
  EXPECT_GT(scaling_factor, 0.0);
  EXPECT_EQ(vae, json_of_text(pretrain::vae_config_json(config.architecture, scaling_factor)));
  EXPECT_EQ(json_of_file(shipped_model() + "/scheduler/scheduler_config.json"),
            json_of_text(pretrain::scheduler_config_json()));
  EXPECT_EQ(json_of_file(shipped_model() + "/model_index.json"), json_of_text(pretrain::model_index_json()));
  uintmax_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(shipped_model()))
    if (entry.is_regular_file()) bytes += entry.file_size();
  EXPECT_LE(bytes, 25u * 1000 * 1000) << "the shipped model must stay within 25 MB";
}

TEST_F(ShippedModel, VaeReconstructsTestImagesItNeverSaw) {
  const auto model = sd::StableDiffusion::load(shipped_model());
  const at::Tensor images = test_images(16);
  const at::Tensor latents = model.encode_images(images, at::zeros({16, 4, 8, 8}));
  EXPECT_EQ(latents.sizes(), (at::IntArrayRef{16, 4, 8, 8}));
  const at::Tensor decoded = model.decode_latents(latents).permute({0, 3, 1, 2});
  const double error = (decoded - images).abs().mean().item<double>();
  // An untrained VAE is off by about 0.3 per pixel; the shipped one by a few hundredths.
  EXPECT_LT(error, 0.08);
}

TEST_F(ShippedModel, TextToImageMakesImagesWithTheDatasetsBackground) {
  // Fashion-MNIST is a light garment on a black background: the border of a generated image is dark and its
  // centre is brighter. An untrained UNet makes flat noise with neither (border and centre both about 0.5); the
  // shipped model's border averages about 0.2 over these eight images, some of which fill the frame.
  const auto model = sd::StableDiffusion::load(shipped_model());
  sd::Txt2ImgRequest request;
  request.prompts = std::vector<std::string>(8, "a photo of a clothing");
  request.height = request.width = 32;
  request.num_inference_steps = 20;
  request.guidance_scale = 2.0;
  request.seed = 3;
  const at::Tensor images = model.txt2img(request).images;  // [8, 32, 32, 3]
  ASSERT_EQ(images.sizes(), (at::IntArrayRef{8, 32, 32, 3}));
  const at::Tensor border = at::cat({images.slice(1, 0, 2).flatten(), images.slice(1, 30, 32).flatten()});
  const at::Tensor centre = images.slice(1, 8, 24).slice(2, 8, 24);
  EXPECT_LT(border.mean().item<double>(), 0.35);
  EXPECT_GT(centre.mean().item<double>(), border.mean().item<double>() + 0.1);
}

}  // namespace
}  // namespace dmx::test
