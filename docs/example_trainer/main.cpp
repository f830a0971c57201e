// A small LibTorch trainer that uses diffmix the way an existing one would: the plugin registry, an augmenter chain
// from TOML, and the StackAndAugment transform in a torch::data pipeline. It learns four Gaussian blobs rendered as
// 3×8×8 images, with CutMix and Mixup on every batch and a soft-target loss.
//
// With a [stream] table in its config it also mixes in synthetic samples that a sample source plugin makes while it
// trains (dmx::StreamingDataset; docs/streaming.md):
//
//   [plugins]
//   path = ["build/test-plugins"]
//   [stream]
//   cache = "stream-cache"     # streamed samples persist here; a rerun reuses them
//   probability = 0.3
//   synchronous = true         # reproducible: epoch e draws from the first e·per_epoch samples
//   per_epoch = 64
//   [stream.source]
//   augmenter = "blend_source"
//
//   example_trainer [config.toml]
#include <torch/data.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <cstdio>

#include "diffmix/config.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/streaming_dataset.hpp"
#include "diffmix/torch_data.hpp"
#include "diffmix/version.hpp"

namespace {

constexpr int64_t kClasses = 4;

// Class c is a fixed random pattern (seeded by c) plus noise.
class Blobs : public torch::data::datasets::Dataset<Blobs> {
 public:
  explicit Blobs(int64_t size) : size_(size) {}
  torch::data::Example<> get(size_t index) override {
    const int64_t label = static_cast<int64_t>(index) % kClasses;
    auto pattern = at::randn({3, 8, 8}, at::make_generator<at::CPUGeneratorImpl>(label));
    auto image = pattern + at::randn({3, 8, 8}, at::make_generator<at::CPUGeneratorImpl>(1000 + index));
    return {image, torch::tensor(label)};
  }
  torch::optional<size_t> size() const override { return size_; }

 private:
  int64_t size_;
};

// The same blobs as uint8 8×8×3 images in a diffmix dataset: what a sample source and the Mixer read. Normalizing
// with mean 0.5, std 0.125 brings them back to about the float blobs' scale.
class BlobImages : public dmx::data::Dataset {
 public:
  explicit BlobImages(int64_t size) : size_(size) {
    for (int64_t c = 0; c < kClasses; ++c) names_.push_back("blob " + std::to_string(c));
  }
  int64_t size() const override { return size_; }
  int64_t label(int64_t index) const override { return index % kClasses; }
  at::Tensor load_image(int64_t index, const dmx::data::ImageRequest&) const override {
    const at::Tensor image = Blobs(size_).get(static_cast<size_t>(index)).data;  // 3×8×8 float
    return (image * 32 + 128).round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous();
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "blob image " + std::to_string(index); }

 private:
  int64_t size_;
  std::vector<std::string> names_;
  std::string metaclass_ = "blob", name_ = "blobs";
};

// One epoch of SGD over `loader`; returns the mean soft-target cross-entropy.
template <typename Loader>
double train_epoch(Loader& loader, torch::nn::Linear& model, torch::optim::SGD& optimizer) {
  double total = 0;
  int batches = 0;
  for (auto& batch : loader) {
    auto logits = model->forward(batch.data.flatten(1));
    auto loss = -(batch.target * at::log_softmax(logits, 1)).sum(1).mean();  // soft-target cross-entropy
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    total += loss.template item<double>();
    ++batches;
  }
  return total / batches;
}

// [stream]: the real set, with a share of it replaced by samples the source streams (see the top of this file).
std::unique_ptr<dmx::StreamingDataset> streaming_dataset(const dmx::config::Table& stream,
                                                         dmx::PluginRegistry& registry) {
  dmx::StreamingOptions options;
  options.cache = stream.required_string("cache");
  options.probability = stream.number("probability", 0.3, {0, 1});
  options.synchronous = stream.boolean("synchronous", false);
  options.per_epoch = stream.integer("per_epoch", 64, {1, 1e9});
  options.seed = 42;
  const auto source_table = stream.table("source");
  if (!source_table) throw dmx::config_error(stream.where("source") + ": [stream] needs a [stream.source] table");
  auto real = std::make_shared<BlobImages>(512);
  dmx::SampleSourceContext context;
  context.num_classes = kClasses;
  context.seed = 42;
  context.dataset = real;
  auto source = registry.create_sample_source(source_table->required_string("augmenter"), *source_table, context);
  const auto normalize = dmx::data::Transforms().normalize({0.5f, 0.5f, 0.5f}, {0.125f, 0.125f, 0.125f});
  return std::make_unique<dmx::StreamingDataset>(real, std::move(source), normalize, options);
}

const char* kDefaultAugment = R"(
[[augment]]
augmenter = "cutmix"
alpha = 1.0
prob = 0.5

[[augment]]
augmenter = "mixup"
alpha = 0.2
prob = 0.5
)";

}  // namespace

int main(int argc, char** argv) {
  try {
    std::printf("diffmix %s\n", DIFFMIX_VERSION_STRING);
    const auto config = argc > 1 ? dmx::config::Document::parse_file(argv[1])
                                 : dmx::config::Document::parse_string(kDefaultAugment, "built-in augment config");
    dmx::RegistryOptions registry_options;
    if (auto plugins = config.root().table("plugins")) registry_options.search_paths = plugins->string_list("path", {});
    dmx::PluginRegistry registry(registry_options);
    auto chain = std::make_shared<dmx::AugmentChain>(
        dmx::AugmentChain::from_config(registry, config.root().table_array("augment"), {kClasses, 42}));
    const auto stream_table = config.root().table("stream");
    auto streaming = stream_table ? streaming_dataset(*stream_table, registry) : nullptr;
    config.root().finish();
    std::printf("augmenters:");
    for (const auto& name : chain->names()) std::printf(" %s", name.c_str());
    std::printf("\n");

    torch::nn::Linear model(3 * 8 * 8, kClasses);
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    const auto options = torch::data::DataLoaderOptions().batch_size(32);
    if (streaming) {
      // The loader holds a copy of the dataset; set_epoch on this one reaches it.
      auto loader = torch::data::make_data_loader(streaming->map(dmx::StackAndAugment(chain, kClasses)), options);
      for (int epoch = 0; epoch < 3; ++epoch) {
        streaming->set_epoch(static_cast<uint64_t>(epoch));
        const double loss = train_epoch(*loader, model, optimizer);
        streaming->rethrow_if_failed();
        std::printf("epoch %d loss %.4f (%lld streamed samples)\n", epoch, loss,
                    static_cast<long long>(streaming->stream().size()));
      }
    } else {
      auto loader = torch::data::make_data_loader(Blobs(512).map(dmx::StackAndAugment(chain, kClasses)), options);
      for (int epoch = 0; epoch < 3; ++epoch) std::printf("epoch %d loss %.4f\n", epoch, train_epoch(*loader, model, optimizer));
    }
    Blobs test(256);
    int correct = 0;
    for (size_t i = 0; i < 256; ++i) {
      auto example = test.get(i + 100000);
      correct += model->forward(example.data.flatten().unsqueeze(0)).argmax(1).item<int64_t>() == example.target.item<int64_t>();
    }
    std::printf("test accuracy %.3f\n", correct / 256.0);
    return correct > 200 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_trainer: %s\n", e.what());
    return 2;
  }
}
