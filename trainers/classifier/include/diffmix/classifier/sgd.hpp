// SGD with momentum and weight decay, computing exactly what torch::optim::SGD computes (dampening 0, no Nesterov):
//   d = g + wd·p;  buf = d on the first step, else momentum·buf + d;  p −= lr·buf
// Its state is one momentum buffer per parameter, keyed by the parameter's name, so a checkpoint stores it as named
// tensors and a resumed run continues bit-for-bit.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dmx::classifier {

struct SgdOptions {
  double momentum = 0.9;
  double weight_decay = 5e-5;
};

class MomentumSgd {
 public:
  MomentumSgd(std::vector<std::pair<std::string, at::Tensor>> named_parameters, const SgdOptions& options);

  // One update with learning rate `lr` from the gradients currently stored in the parameters. Parameters without a
  // gradient are left alone.
  void step(double lr);
  void zero_grad();

  // Momentum buffers by parameter name (parameters not yet updated have none).
  const std::map<std::string, at::Tensor>& momentum_buffers() const { return buffers_; }
  // Replaces the buffers (from a checkpoint). A name that is not a parameter, or a buffer whose shape differs from
  // its parameter's, is a shape error naming it.
  void load_momentum_buffers(const std::map<std::string, at::Tensor>& buffers);

 private:
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  SgdOptions options_;
  std::map<std::string, at::Tensor> buffers_;
};

}  // namespace dmx::classifier
