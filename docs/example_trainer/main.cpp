// A small LibTorch trainer that uses diffmix the way an existing one would: the plugin registry, an augmenter chain
// from TOML, and the StackAndAugment transform in a torch::data pipeline. It learns four Gaussian blobs rendered as
// 3×8×8 images, with CutMix and Mixup on every batch and a soft-target loss.
//
//   example_trainer [augment.toml]
#include <torch/data.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <cstdio>

#include "diffmix/config.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/torch_data.hpp"

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
    const auto config = argc > 1 ? dmx::config::Document::parse_file(argv[1])
                                 : dmx::config::Document::parse_string(kDefaultAugment, "built-in augment config");
    dmx::PluginRegistry registry;
    auto chain = std::make_shared<dmx::AugmentChain>(
        dmx::AugmentChain::from_config(registry, config.root().table_array("augment"), {kClasses, 42}));
    config.root().finish();
    std::printf("augmenters:");
    for (const auto& name : chain->names()) std::printf(" %s", name.c_str());
    std::printf("\n");

    auto loader = torch::data::make_data_loader(
        Blobs(512).map(dmx::StackAndAugment(chain, kClasses)),
        torch::data::DataLoaderOptions().batch_size(32));
    torch::nn::Linear model(3 * 8 * 8, kClasses);
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    for (int epoch = 0; epoch < 3; ++epoch) {
      double total = 0;
      int batches = 0;
      for (auto& batch : *loader) {
        auto logits = model->forward(batch.data.flatten(1));
        auto loss = -(batch.target * at::log_softmax(logits, 1)).sum(1).mean();  // soft-target cross-entropy
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        total += loss.item<double>();
        ++batches;
      }
      std::printf("epoch %d loss %.4f\n", epoch, total / batches);
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
