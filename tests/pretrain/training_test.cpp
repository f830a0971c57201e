// Pretraining on a handful of Fashion-MNIST training images: the losses go down, a cancelled and resumed run ends
// bit for bit where an uninterrupted one does, the decoder phase leaves the latents alone, and the folder
// `diffmix pretrain` writes generates through the engine.
#include "pretrain/pretrain_fixtures.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd_finetune/finetuner.hpp"
#include "diffmix/sd_pretrain/latent_cache.hpp"
#include "diffmix/sd_pretrain/pretrainer.hpp"
#include "diffmix/sd_pretrain/training_images.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace dmx::test {
namespace {

namespace fs = std::filesystem;

class PretrainTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fashion_mnist_installed()) GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
  }
};

at::Generator generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

TEST_F(PretrainTraining, VaeAndUNetLossesGoDown) {
  const auto config = tiny_pretrain_config(fresh_pretrain_dir("losses"));
  const auto dataset = data::open_dataset(config.data);
  ASSERT_EQ(dataset->size(), 10);  // one image per class
  const auto images = pretrain::TrainingImages::load(*dataset, 16);
  pretrain::Pretrainer trainer(config, dataset->class_names(), pretrain::pretraining_caption("clothing"));

  // The loss on one fixed batch, before and after training on random batches of the same images.
  auto g = generator(1);
  const auto all = at::arange(10, at::kLong);
  const pretrain::VaeBatch fixed_vae{images.batch(all), at::randn({10, 4, 4, 4}, g)};
  const double vae_before = trainer.vae_loss(fixed_vae).item<double>();
  for (int step = 0; step < 30; ++step) {
    trainer.vae_step({images.batch(at::randint(0, 10, {4}, g, at::kLong)), at::randn({4, 4, 4, 4}, g)});
  }
  const double vae_after = trainer.vae_loss(fixed_vae).item<double>();
  EXPECT_LT(vae_after, 0.7 * vae_before) << "VAE loss " << vae_before << " -> " << vae_after;

  const auto latents = pretrain::LatentCache::encode(trainer.vae(), images, 4);
  const double scaling = latents.scaling_factor(generator(2));
  EXPECT_GT(scaling, 0.0);
  trainer.start_unet_phase(scaling);
  const auto unet_batch = [&](const at::Tensor& indices) {
    const auto n = indices.size(0);
    return pretrain::UNetBatch{latents.sample(indices, at::randn({n, 4, 4, 4}, g)) * scaling,
                               at::randn({n, 4, 4, 4}, g), at::randint(0, 1000, {n}, g, at::kLong),
                               at::rand({n}, g).lt(0.1)};
  };
  const auto fixed_unet = unet_batch(all);
  const double unet_before = trainer.unet_loss(fixed_unet).item<double>();
  for (int step = 0; step < 30; ++step) trainer.unet_step(unet_batch(at::randint(0, 10, {4}, g, at::kLong)));
  const double unet_after = trainer.unet_loss(fixed_unet).item<double>();
  EXPECT_LT(unet_after, 0.8 * unet_before) << "UNet loss " << unet_before << " -> " << unet_after;
}

std::vector<uint8_t> bytes(const std::string& path) { return io::read_file(path); }

// The tensors of one safetensors file whose names start with `prefix`.
std::map<std::string, at::Tensor> tensors_with_prefix(const std::string& path, const std::string& prefix) {
  const auto file = io::SafetensorsFile::open(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& name : file.names()) {
    if (name.rfind(prefix, 0) == 0) out[name] = file.tensor(name);
  }
  return out;
}

TEST_F(PretrainTraining, DecoderPhaseSharpensReconstructionsWithoutMovingTheLatents) {
  const auto config = tiny_pretrain_config(fresh_pretrain_dir("decoder"), 20, 2, 40);
  const auto dataset = data::open_dataset(config.data);
  const auto images = pretrain::TrainingImages::load(*dataset, 16);
  pretrain::Pretrainer trainer(config, dataset->class_names(), pretrain::pretraining_caption("clothing"));
  auto g = generator(4);
  for (int step = 0; step < 20; ++step) {
    trainer.vae_step({images.batch(at::randint(0, 10, {4}, g, at::kLong)), at::randn({4, 4, 4, 4}, g)});
  }
  const auto latents = pretrain::LatentCache::encode(trainer.vae(), images, 4);
  trainer.start_unet_phase(latents.scaling_factor(generator(2)));
  EXPECT_THROW(trainer.decoder_step({}), dmx::Error);  // only in the decoder phase
  trainer.start_decoder_phase();
  EXPECT_EQ(trainer.phase(), pretrain::Phase::VaeDecoder);

  const auto all = at::arange(10, at::kLong);
  const pretrain::DecoderBatch fixed{images.batch(all), latents.sample(all, at::randn({10, 4, 4, 4}, g))};
  const double before = trainer.decoder_loss(fixed).item<double>();
  for (int step = 0; step < 40; ++step) {
    const auto indices = at::randint(0, 10, {4}, g, at::kLong);
    trainer.decoder_step({images.batch(indices), latents.sample(indices, at::randn({4, 4, 4, 4}, g))});
  }
  const double after = trainer.decoder_loss(fixed).item<double>();
  EXPECT_LT(after, 0.9 * before) << "decoder loss " << before << " -> " << after;

  // The encoder is what the UNet learnt from: it encodes exactly as before.
  const auto again = pretrain::LatentCache::encode(trainer.vae(), images, 4);
  const auto noise = at::randn({10, 4, 4, 4}, g);
  EXPECT_TRUE(again.sample(all, noise).equal(latents.sample(all, noise)));
}

TEST_F(PretrainTraining, FinishedModelGetsADecoderPhaseWhenTheConfigAddsOne) {
  const auto dir = fresh_pretrain_dir("decoder-added");
  const auto before = tiny_pretrain_config(dir, 4, 2);
  pretrain::run_pretrain(before);
  const auto vae_file = before.output_dir + "/vae/diffusion_pytorch_model.safetensors";
  const auto unet_file = before.output_dir + "/unet/diffusion_pytorch_model.safetensors";
  const auto encoder = tensors_with_prefix(vae_file, "encoder.");
  const auto decoder = tensors_with_prefix(vae_file, "decoder.");
  const auto unet = bytes(unet_file);

  const auto after = tiny_pretrain_config(dir, 4, 2, 6);
  const auto result = pretrain::run_pretrain(after);
  EXPECT_EQ(result.vae_decoder.steps, 6);
  EXPECT_GT(result.vae_decoder.seconds_per_step, 0.0);
  EXPECT_EQ(bytes(unet_file), unet);
  for (const auto& [name, tensor] : tensors_with_prefix(vae_file, "encoder.")) {
    EXPECT_TRUE(tensor.equal(encoder.at(name))) << name;
  }
  int changed = 0;
  for (const auto& [name, tensor] : tensors_with_prefix(vae_file, "decoder.")) changed += !tensor.equal(decoder.at(name));
  EXPECT_GT(changed, 0);

  // Finished with its decoder steps: a third run trains nothing more.
  const auto decoded = bytes(vae_file);
  const auto third = pretrain::run_pretrain(after);
  EXPECT_EQ(third.vae_decoder.seconds_per_step, 0.0);
  EXPECT_EQ(bytes(vae_file), decoded);
}

// Runs until `cancel_at` (phase, step) asks to stop; returns whether the run finished.
bool run_until(const pretrain::PretrainConfig& config, pretrain::Phase phase, int64_t step) {
  pretrain::PretrainRunOptions options;
  options.on_step = [&](pretrain::Phase p, int64_t s, double) {
    if (p == phase && s == step) request_cancel();
  };
  try {
    pretrain::run_pretrain(config, options);
    return true;
  } catch (const dmx::Error& e) {
    clear_cancel();
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Cancelled) << e.what();
    return false;
  }
}

TEST_F(PretrainTraining, CancelledAndResumedRunEqualsAnUninterruptedOne) {
  const auto straight = tiny_pretrain_config(fresh_pretrain_dir("straight"), 5, 5, 3);
  const auto result = pretrain::run_pretrain(straight);
  EXPECT_EQ(result.vae.steps, 5);
  EXPECT_EQ(result.unet.steps, 5);
  EXPECT_EQ(result.vae_decoder.steps, 3);

  const auto resumed = tiny_pretrain_config(fresh_pretrain_dir("resumed"), 5, 5, 3);
  EXPECT_FALSE(run_until(resumed, pretrain::Phase::Vae, 3));   // between periodic checkpoints (every 2 steps)
  EXPECT_FALSE(run_until(resumed, pretrain::Phase::UNet, 1));  // after the phase change
  EXPECT_FALSE(run_until(resumed, pretrain::Phase::UNet, 4));
  EXPECT_FALSE(run_until(resumed, pretrain::Phase::VaeDecoder, 1));
  EXPECT_TRUE(run_until(resumed, pretrain::Phase::Vae, -1));

  for (const char* file : {"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                           "vae/config.json", "text_encoder/model.safetensors", "tokenizer/vocab.json",
                           "tokenizer/merges.txt"}) {
    EXPECT_EQ(bytes(resumed.output_dir + "/" + file), bytes(straight.output_dir + "/" + file)) << file;
  }
  // The UNet learned something: the exported weights are not the initial ones.
  EXPECT_NE(bytes(straight.output_dir + "/unet/diffusion_pytorch_model.safetensors"),
            bytes(straight.work_dir + "/model/unet/diffusion_pytorch_model.safetensors"));
}

TEST_F(PretrainTraining, CheckpointOfAnotherArchitectureIsRefused) {
  auto config = tiny_pretrain_config(fresh_pretrain_dir("refused"), 2, 0);
  EXPECT_FALSE(run_until(config, pretrain::Phase::Vae, 1));
  config.architecture.unet.layers_per_block = 2;
  try {
    pretrain::run_pretrain(config);
    FAIL() << "a checkpoint of another architecture was accepted";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("architecture"), std::string::npos) << e.what();
  }
}

TEST_F(PretrainTraining, CommandWritesAFolderThatGeneratesAndFineTunes) {
  const auto folder = fresh_pretrain_dir("cli");
  const auto config_path = folder + "/tiny.toml";
  std::ofstream(config_path) << "output = \"" << folder << "/model\"\nseed = 1\n"
                             << "[data]\nkind = \"fashion-mnist\"\nshots = 1\n"
                             << "[pretrain]\nresolution = 16\nbatch_size = 4\n"
                             << "[vae]\nsteps = 3\nblock_out_channels = [16, 16, 16]\nnorm_num_groups = 8\n"
                             << "[unet]\nsteps = 3\nblock_out_channels = [16, 32]\nlayers_per_block = 1\n"
                             << "attention_heads = 2\nnorm_num_groups = 8\n"
                             << "[text_encoder]\nhidden_size = 16\nintermediate_size = 32\nlayers = 1\nheads = 2\n";
  const auto command = cli_path() + " pretrain " + config_path + " > " + folder + "/log.txt 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_TRUE(fs::exists(folder + "/model-work/checkpoint.safetensors"));  // work_dir defaults to <output>-work

  const auto sd = sd::StableDiffusion::load(folder + "/model");
  EXPECT_EQ(sd.tokenizer().model_max_length(), 77);
  sd::Txt2ImgRequest text;
  text.prompts = {"a photo of a clothing"};
  text.num_inference_steps = 3;
  text.guidance_scale = 3.0;
  const auto generated = sd.txt2img(text).images;
  EXPECT_EQ(generated.sizes(), (at::IntArrayRef{1, 16, 16, 3}));
  EXPECT_TRUE(generated.isfinite().all().item<bool>());

  sd::Img2ImgRequest edit;
  edit.prompts = {"a photo of a clothing"};
  edit.images = generated.permute({0, 3, 1, 2}).repeat({2, 1, 1, 1}).contiguous();
  edit.strength = 0.6;
  edit.num_inference_steps = 4;
  const auto edited = sd.img2img(edit).images;
  EXPECT_EQ(edited.sizes(), (at::IntArrayRef{2, 16, 16, 3}));
  EXPECT_TRUE(edited.isfinite().all().item<bool>());

  // What the project does next with the folder: TI+DB fine-tuning, class tokens starting from "clothing".
  finetune::FinetuneSettings settings;
  settings.strategy = finetune::Strategy::Both;
  settings.resolution = 16;
  settings.batch_size = 2;
  settings.lora_rank = 2;
  finetune::Finetuner tuner(folder + "/model", settings, data::fashion_mnist_class_names(), "clothing", 0);
  auto g = at::make_generator<at::CPUGeneratorImpl>(5);
  const double loss = tuner.train_step({at::randn({2, 4, 4, 4}, g), at::randn({2, 4, 4, 4}, g),
                                        at::randint(0, 1000, {2}, g, at::kLong), {0, 9}});
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(tuner.prompts()[9], "a photo of a <class_9> clothing");
}

}  // namespace
}  // namespace dmx::test
