#include "diffmix/classifier/classifier.hpp"

#include "diffmix/classifier/resnet.hpp"
#include "diffmix/classifier/small_cnn.hpp"
#include "diffmix/error.hpp"

namespace dmx::classifier {

std::vector<std::string> classifier_architectures() { return {"small_cnn", "resnet18", "resnet50"}; }

std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec) {
  if (spec.num_classes < 1 || spec.in_channels < 1)
    throw invalid_argument("classifier '" + spec.architecture + "': num_classes (" + std::to_string(spec.num_classes) +
                           ") and in_channels (" + std::to_string(spec.in_channels) + ") must be >= 1");
  if (spec.architecture == "small_cnn") return std::make_shared<SmallCnn>(spec.num_classes, spec.in_channels);
  if (spec.architecture == "resnet18")
    return std::make_shared<ResNet>(ResNet::resnet18(), spec.num_classes, spec.in_channels);
  if (spec.architecture == "resnet50")
    return std::make_shared<ResNet>(ResNet::resnet50(), spec.num_classes, spec.in_channels);
  std::string known;
  for (const auto& name : classifier_architectures()) known += (known.empty() ? "" : ", ") + name;
  throw invalid_argument("unknown classifier architecture '" + spec.architecture + "'; known: " + known);
}

}  // namespace dmx::classifier
