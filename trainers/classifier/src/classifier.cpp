#include "diffmix/classifier/classifier.hpp"

#include "diffmix/classifier/resnet.hpp"
#include "diffmix/classifier/small_cnn.hpp"
#include "diffmix/classifier/vit.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

namespace dmx::classifier {

at::Tensor Classifier::fit_pretrained_tensor(const std::string& /*name*/, const at::Tensor& /*stored*/) const {
  return {};
}

NameInFile Classifier::pretrained_names(const std::vector<std::string>& /*file_names*/) const { return {}; }

std::vector<std::string> classifier_architectures() {
  return {"small_cnn", "resnet18", "resnet50", "vit_tiny16", "vit_b16"};
}

std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec) {
  if (spec.num_classes < 1 || spec.in_channels < 1)
    throw invalid_argument("classifier '" + spec.architecture + "': num_classes (" + std::to_string(spec.num_classes) +
                           ") and in_channels (" + std::to_string(spec.in_channels) + ") must be >= 1");
  if (spec.architecture == "small_cnn") return std::make_shared<SmallCnn>(spec.num_classes, spec.in_channels);
  if (spec.architecture == "resnet18")
    return std::make_shared<ResNet>(ResNet::resnet18(), spec.num_classes, spec.in_channels);
  if (spec.architecture == "resnet50")
    return std::make_shared<ResNet>(ResNet::resnet50(), spec.num_classes, spec.in_channels);
  if (spec.architecture == "vit_tiny16")
    return std::make_shared<VisionTransformer>(VisionTransformer::vit_tiny16(), spec.num_classes, spec.in_channels,
                                               spec.image_size);
  if (spec.architecture == "vit_b16")
    return std::make_shared<VisionTransformer>(VisionTransformer::vit_b16(), spec.num_classes, spec.in_channels,
                                               spec.image_size);
  std::string known;
  for (const auto& name : classifier_architectures()) known += (known.empty() ? "" : ", ") + name;
  throw invalid_argument("unknown classifier architecture '" + spec.architecture + "'; known: " + known);
}

void load_pretrained(Classifier& model, const std::string& path) {
  LoadWeightsOptions options;
  options.skip_prefixes = {model.head_prefix()};
  options.name_in_file = model.pretrained_names(io::SafetensorsFile::open(path).names());
  options.adapt = [&model](const std::string& name, const at::Tensor& stored) {
    return model.fit_pretrained_tensor(name, stored);
  };
  load_weights(model, path, options);
}

}  // namespace dmx::classifier
