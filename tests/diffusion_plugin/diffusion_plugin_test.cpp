// The diffusion plugin through the plugin ABI, on the tiny Stable Diffusion fixture: the seven augmenters, what each
// makes (reference image, prompt, strength set, soft label, size), the two modes agreeing, and the errors a user meets.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "../common/test_env.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/sd/image_processor.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"
#include "diffusion_plugin_fixtures.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::test::OneImagePerClass;

constexpr int64_t kSteps = 10;  // 0.1 → 1 step, 0.25 → 2, ..., 1.0 → 10

std::string fresh_dir(const std::string& name) { return dmx::test::fresh_plugin_test_dir("abi", name); }

// The source table: the tiny model at 32 px, 10 steps, and `extra` lines.
dmx::config::Document source_config(const std::string& augmenter, const std::string& extra = "") {
  return dmx::config::Document::parse_string("augmenter = \"" + augmenter + "\"\nmodel = \"" +
                                                 dmx::test::tiny_model_dir() + "\"\nresolution = 32\nsteps = " +
                                                 std::to_string(kSteps) + "\nbatch_size = 3\n" + extra,
                                             "source.toml");
}

std::shared_ptr<dmx::SampleSource> create(dmx::PluginRegistry& registry, const std::string& augmenter,
                                          const std::string& extra = "", uint64_t seed = 11,
                                          dmx::data::DatasetPtr dataset = std::make_shared<OneImagePerClass>()) {
  const auto document = source_config(augmenter, extra);
  dmx::SampleSourceContext context;
  context.num_classes = dataset->num_classes();
  context.seed = seed;
  context.dataset = std::move(dataset);
  return registry.create_sample_source(augmenter, document.root(), context);
}

dmx::PluginRegistry registry() {
  dmx::RegistryOptions options;
  options.search_paths = {dmx::test::plugin_dir()};
  options.use_environment = false;
  return dmx::PluginRegistry(options);
}

// What `diffmix sd img2img` makes for one reference: resized to 32×32, one batch-1 SDEdit from the sample's seed,
// resized back.
at::Tensor expected_img2img(const dmx::sd::StableDiffusion& model, const std::string& prompt, const at::Tensor& ref,
                            double strength, uint64_t seed) {
  dmx::sd::Img2ImgRequest request;
  request.prompts = {prompt};
  request.images = dmx::sd::resize_images(dmx::sd::images_from_uint8(ref), 32, 32);
  request.strength = strength;
  request.seed = seed;
  request.num_inference_steps = kSteps;
  const at::Tensor out = model.img2img(request).images;  // [1, 32, 32, 3]
  const at::Tensor back = dmx::sd::resize_images(out.permute({0, 3, 1, 2}), ref.size(0), ref.size(1));
  return dmx::sd::images_to_uint8(back.clamp(0, 1).permute({0, 2, 3, 1})).squeeze(0);
}

// The strength a sample was made with: dmx_sample carries it as a float (0.7f is 0.69999998), and
// int(10 × 0.69999998) would run one step fewer than the source ran for 0.7.
double plan_strength(float strength) { return std::round(static_cast<double>(strength) * 1e4) / 1e4; }

int64_t max_abs_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kInt) - b.to(at::kInt)).abs().max().item<int64_t>();
}

TEST(DiffusionPlugin, OffersTheSevenAugmentersAsSampleSources) {
  auto plugins = registry();
  const dmx::PluginInfo* diffusion = nullptr;
  for (const auto& plugin : plugins.plugins())
    if (plugin.name == "diffusion") diffusion = &plugin;
  ASSERT_NE(diffusion, nullptr);
  std::vector<std::string> names;
  for (const auto& augmenter : diffusion->augmenters) {
    names.push_back(augmenter.name);
    EXPECT_EQ(augmenter.role, dmx::AugmenterRole::SampleSource) << augmenter.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"real_gen", "real_aug", "real_mix", "da_fusion", "diff_gen", "diff_aug",
                                             "diff_mix"}));
}

TEST(DiffusionPlugin, RealMixTranslatesTheSourceImageTowardTheTargetPrompt) {
  auto plugins = registry();
  const auto source = create(plugins, "real_mix");
  ASSERT_TRUE(source->can_stream());
  ASSERT_TRUE(source->can_seek());
  source->prepare();
  const OneImagePerClass images;
  const auto model = dmx::sd::StableDiffusion::load(dmx::test::tiny_model_dir());
  std::set<double> strengths;
  for (int k = 0; k < 9; ++k) {
    const auto sample = source->next();
    ASSERT_TRUE(sample);
    ASSERT_GE(sample->source_class, 0);
    strengths.insert(sample->strength);
    const at::Tensor reference = images.load_image(sample->source_class);
    // Resized back to the reference's own size, whatever its aspect ratio.
    EXPECT_EQ(sample->image.sizes(), reference.sizes()) << "sample " << k;
    const auto prompt = "a photo of a " + images.class_names()[static_cast<size_t>(sample->target_class)];
    const auto expected = expected_img2img(model, prompt, reference, plan_strength(sample->strength), sample->seed);
    EXPECT_LE(max_abs_difference(sample->image, expected), 1) << "sample " << k;
    const auto label = dmx::data::diffmix_soft_label(sample->source_class, sample->target_class, sample->strength, 3);
    EXPECT_TRUE(at::allclose(sample->soft_label, label)) << "sample " << k;
  }
  EXPECT_EQ(strengths, (std::set<double>{0.5f, 0.7f, 0.9f}));
}

TEST(DiffusionPlugin, SameClassStrategiesKeepTheClassAndTheirStrengths) {
  auto plugins = registry();
  const auto model = dmx::sd::StableDiffusion::load(dmx::test::tiny_model_dir());
  // Real-Aug draws from {0.5, 0.7, 0.9}; Real-Guidance is Real-Aug at a fixed 0.1.
  for (const auto& [augmenter, expected] : std::vector<std::pair<std::string, std::set<float>>>{
           {"real_aug", {0.5f, 0.7f, 0.9f}}, {"real_guidance", {0.1f}}}) {
    const bool fixed = augmenter == "real_guidance";
    const auto source = create(plugins, "real_aug", fixed ? "strengths = [0.1]\n" : "");
    source->prepare();
    std::set<float> strengths;
    for (int k = 0; k < 6; ++k) {
      const auto sample = source->next();
      ASSERT_TRUE(sample);
      EXPECT_EQ(sample->source_class, sample->target_class);
      if (k < 3) {  // the image is the class's own image translated toward its own prompt, at the sample's strength
        const OneImagePerClass images;
        const auto prompt = "a photo of a " + images.class_names()[static_cast<size_t>(sample->target_class)];
        const auto expected = expected_img2img(model, prompt, images.load_image(sample->source_class),
                                               plan_strength(sample->strength), sample->seed);
        EXPECT_LE(max_abs_difference(sample->image, expected), 1) << augmenter << " sample " << k;
      }
      strengths.insert(sample->strength);
      const at::Tensor onehot = at::zeros({3});
      onehot[sample->target_class] = 1.0;
      EXPECT_TRUE(at::equal(sample->soft_label, onehot));
    }
    for (const float strength : strengths) EXPECT_TRUE(expected.count(strength)) << augmenter << " made s = " << strength;
    if (fixed) EXPECT_EQ(strengths, expected);
  }
}

TEST(DiffusionPlugin, RealGenImaginesAtTheConfiguredResolution) {
  auto plugins = registry();
  const auto source = create(plugins, "real_gen");
  source->prepare();
  const auto model = dmx::sd::StableDiffusion::load(dmx::test::tiny_model_dir());
  const OneImagePerClass images;
  for (int k = 0; k < 4; ++k) {
    const auto sample = source->next();
    ASSERT_TRUE(sample);
    EXPECT_EQ(sample->source_class, -1);
    EXPECT_EQ(sample->strength, 1.0f);
    EXPECT_EQ(sample->image.sizes(), (at::IntArrayRef{32, 32, 3}));
    dmx::sd::Txt2ImgRequest request;
    request.prompts = {"a photo of a " + images.class_names()[static_cast<size_t>(sample->target_class)]};
    request.seed = sample->seed;
    request.num_inference_steps = kSteps;
    request.height = request.width = 32;
    const auto expected = dmx::sd::images_to_uint8(model.txt2img(request).images).squeeze(0);
    EXPECT_LE(max_abs_difference(sample->image, expected), 1) << "sample " << k;
  }
}

TEST(DiffusionPlugin, PaperModeAndStreamingMakeTheSameSamples) {
  auto plugins = registry();
  const auto dir = fresh_dir("modes");
  const auto paper = create(plugins, "real_mix");
  paper->prepare();
  paper->synthesize(dir + "/cache", 7);
  const auto cache = dmx::data::SyntheticCache::open(dir + "/cache", 3);
  ASSERT_EQ(cache->size(), 7);

  const auto stream = create(plugins, "real_mix");
  stream->prepare();
  for (int64_t k = 0; k < 7; ++k) {
    const auto sample = stream->next();
    ASSERT_TRUE(sample);
    const auto& record = cache->record(k);
    EXPECT_EQ(record.source_class, sample->source_class);
    EXPECT_EQ(record.target_class, sample->target_class);
    EXPECT_FLOAT_EQ(static_cast<float>(record.strength), sample->strength);
    EXPECT_EQ(record.seed, sample->seed);
    EXPECT_TRUE(at::equal(cache->load_image(k), sample->image)) << "sample " << k;
  }

  // seek(n) continues exactly where a stream that made n samples would.
  const auto resumed = create(plugins, "real_mix");
  resumed->prepare();
  resumed->seek(5);
  const auto fifth = resumed->next();
  ASSERT_TRUE(fifth);
  EXPECT_TRUE(at::equal(fifth->image, cache->load_image(5)));
  EXPECT_EQ(fifth->seed, cache->record(5).seed);
}

TEST(DiffusionPlugin, StreamCountEndsTheStream) {
  auto plugins = registry();
  const auto source = create(plugins, "real_aug", "stream_count = 2\n");
  source->prepare();
  EXPECT_TRUE(source->next());
  EXPECT_TRUE(source->next());
  EXPECT_FALSE(source->next());
}

TEST(DiffusionPlugin, FineTunesInPrepareAndDiffMixUsesTheLearnedPrompts) {
  auto plugins = registry();
  const auto dir = fresh_dir("finetune");
  const std::string finetune = "finetuned = \"" + dir + "/ft\"\n[finetune]\nsteps = 2\nbatch_size = 2\n"
                               "resolution = 32\ncheckpoint_every = 1\n";
  const auto source = create(plugins, "diff_mix", finetune);
  source->prepare();
  ASSERT_TRUE(fs::exists(dir + "/ft/" + dmx::finetune::kManifestFile));
  const auto sample = source->next();
  ASSERT_TRUE(sample);

  // The same sample by hand: the base model with the artifacts, the class's learned prompt.
  auto model = dmx::sd::StableDiffusion::load(dmx::test::tiny_model_dir());
  const auto manifest = dmx::finetune::apply_finetune_artifacts(dir + "/ft", model.tokenizer(), model.text_encoder(),
                                                                model.unet(), 3);
  EXPECT_EQ(manifest.prompts[0], "a photo of a <class_0> photo");
  const OneImagePerClass images;
  const auto expected =
      expected_img2img(model, manifest.prompts[static_cast<size_t>(sample->target_class)],
                       images.load_image(sample->source_class), plan_strength(sample->strength), sample->seed);
  EXPECT_LE(max_abs_difference(sample->image, expected), 1);

  // A second source finds the artifacts and does not fine-tune again.
  const auto modified = fs::last_write_time(dir + "/ft/" + dmx::finetune::kManifestFile);
  const auto again = create(plugins, "diff_aug", finetune);
  again->prepare();
  EXPECT_EQ(fs::last_write_time(dir + "/ft/" + dmx::finetune::kManifestFile), modified);

  // Da-Fusion needs textual-inversion-only artifacts: these are refused, naming both strategies.
  const auto da_fusion = create(plugins, "da_fusion", "finetuned = \"" + dir + "/ft\"\n");
  try {
    da_fusion->prepare();
    FAIL() << "ti+db artifacts were accepted for da_fusion";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Config);
    EXPECT_NE(std::string(e.what()).find("'ti+db'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'ti'"), std::string::npos) << e.what();
  }

  // Artifacts of another class count are refused, naming both counts.
  const auto four = create(plugins, "diff_mix", "finetuned = \"" + dir + "/ft\"\n", 11,
                           std::make_shared<OneImagePerClass>(4));
  try {
    four->prepare();
    FAIL() << "artifacts for 3 classes were accepted for 4";
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 classes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("4"), std::string::npos) << e.what();
  }
}

// Every tensor of a safetensors file, by name.
std::map<std::string, at::Tensor> tensors_of(const std::string& path) {
  const auto file = dmx::io::SafetensorsFile::open(path);
  std::map<std::string, at::Tensor> tensors;
  for (const auto& name : file.names()) tensors[name] = file.tensor(name);
  return tensors;
}

// The fine-tuned folder holds the model its [finetune] table makes, whatever the run's seed: more steps continue it
// to the weights of one run of all of them; other settings, or fewer steps, are refused with the folder and setting.
TEST(DiffusionPlugin, AChangedFinetuneTableContinuesTheModelOrIsRefused) {
  auto plugins = registry();
  const auto dir = fresh_dir("finetune_change");
  const auto table = [&](const std::string& folder, int steps, const std::string& learning_rate) {
    return "finetuned = \"" + dir + "/" + folder + "\"\n[finetune]\nsteps = " + std::to_string(steps) +
           "\nbatch_size = 2\nresolution = 32\ncheckpoint_every = 1\nlearning_rate = " + learning_rate + "\n";
  };
  create(plugins, "diff_gen", table("continued", 2, "1e-3"), /*seed=*/3)->prepare();
  create(plugins, "diff_gen", table("continued", 3, "1e-3"), /*seed=*/4)->prepare();
  create(plugins, "diff_gen", table("whole", 3, "1e-3"), /*seed=*/5)->prepare();
  const auto continued = dmx::finetune::FinetuneManifest::read(dir + "/continued/" + dmx::finetune::kManifestFile);
  EXPECT_EQ(continued.steps, 3);
  EXPECT_EQ(continued.seed, 0);
  for (const char* file : {dmx::finetune::kLoraFile, dmx::finetune::kEmbeddingsFile}) {
    const auto a = tensors_of(dir + "/continued/" + file);
    const auto b = tensors_of(dir + "/whole/" + file);
    ASSERT_EQ(a.size(), b.size()) << file;
    for (const auto& [name, tensor] : a) EXPECT_TRUE(at::equal(tensor, b.at(name))) << file << " " << name;
  }

  const auto expect_refused = [&](const std::string& source_table, const std::string& words) {
    try {
      create(plugins, "diff_mix", source_table)->prepare();
      ADD_FAILURE() << "a folder fine-tuned with other settings was used: " << source_table;
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), dmx::ErrorCategory::InvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(dir + "/whole holds a model fine-tuned with other settings"),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_refused(table("whole", 3, "2e-3"), "learning_rate = 0.001 there, learning_rate = 0.002 here");
  expect_refused(table("whole", 2, "1e-3"), "3 steps there, 2 here");
  expect_refused(table("whole", 3, "1e-3") + "seed = 1\n", "seed 0 there, 1 here");
}

TEST(DiffusionPlugin, ClearErrorsForWhatAUserGetsWrong) {
  auto plugins = registry();
  const auto dir = fresh_dir("errors");
  const auto expect_error = [](const std::function<void()>& body, dmx::ErrorCategory category,
                               const std::string& words) {
    try {
      body();
      ADD_FAILURE() << "no error; expected one naming " << words;
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), category) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  // A model folder that does not exist.
  expect_error(
      [&] {
        const auto document = dmx::config::Document::parse_string(
            "augmenter = \"real_mix\"\nmodel = \"" + dir + "/no-such-model\"\n", "source.toml");
        dmx::SampleSourceContext context;
        context.num_classes = 3;
        context.dataset = std::make_shared<OneImagePerClass>();
        plugins.create_sample_source("real_mix", document.root(), context)->prepare();
      },
      dmx::ErrorCategory::NotFound, dir + "/no-such-model");
  // A fine-tuned strategy without artifacts and no [finetune] table.
  expect_error([&] { create(plugins, "diff_mix", "finetuned = \"" + dir + "/empty\"\n")->prepare(); },
               dmx::ErrorCategory::NotFound, dir + "/empty");
  // A fine-tuned strategy without `finetuned`.
  expect_error([&] { create(plugins, "diff_gen"); }, dmx::ErrorCategory::Config, "finetuned");
  // Strengths for a txt2img strategy, and a strength that runs no step.
  expect_error([&] { create(plugins, "real_gen", "strengths = [0.5]\n"); }, dmx::ErrorCategory::Config, "strengths");
  expect_error([&] { create(plugins, "real_aug", "strengths = [0.05]\n"); }, dmx::ErrorCategory::Config, "0 denoising");
  // A typo in a key is caught by the schema with its position.
  expect_error([&] { create(plugins, "real_mix", "gamme = 0.3\n"); }, dmx::ErrorCategory::Config,
               "did you mean 'gamma'?");
  // An unwritable cache folder: nothing is made and nothing is left behind.
  const auto source = create(plugins, "real_mix");
  source->prepare();
  std::ofstream(dir + "/a-file") << "not a folder";
  expect_error([&] { source->synthesize(dir + "/a-file/cache", 3); }, dmx::ErrorCategory::Io, dir + "/a-file/cache");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

}  // namespace
