// Gradient averaging and state broadcast over a process group, in buckets.
#include <ATen/ATen.h>

#include "diffmix/distributed.hpp"

namespace dmx::dist {
namespace {

// DistributedDataParallel's default bucket: large enough that per-collective latency does not dominate, small
// enough that the flattened copies stay modest.
constexpr int64_t kBucketBytes = int64_t{25} << 20;

// Consecutive tensors of one dtype and device, up to kBucketBytes each (a larger tensor is a bucket by itself).
std::vector<std::vector<at::Tensor>> buckets_of(const std::vector<at::Tensor>& tensors) {
  std::vector<std::vector<at::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& tensor : tensors) {
    const int64_t size = tensor.numel() * static_cast<int64_t>(tensor.element_size());
    const bool same_kind = !buckets.empty() && buckets.back().front().scalar_type() == tensor.scalar_type() &&
                           buckets.back().front().device() == tensor.device();
    if (buckets.empty() || !same_kind || bytes + size > kBucketBytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(tensor);
    bytes += size;
  }
  return buckets;
}

at::Tensor flatten(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& tensor : tensors) flat.push_back(tensor.reshape({-1}));
  return at::cat(flat);
}

void unflatten_into(const at::Tensor& flat, const std::vector<at::Tensor>& tensors) {
  int64_t offset = 0;
  for (const auto& tensor : tensors) {
    tensor.copy_(flat.narrow(0, offset, tensor.numel()).view(tensor.sizes()));
    offset += tensor.numel();
  }
}

}  // namespace

void average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& parameters, const std::string& what) {
  if (group.size() == 1) return;
  // A parameter without a gradient here may have one on another rank: it takes part as zeros, and a flag per
  // parameter, reduced with the buckets, tells which parameters no rank had a gradient for (they keep none, as in
  // a single process, so that the optimizer leaves them alone).
  std::vector<at::Tensor> trainable, gradients;
  for (const auto& parameter : parameters)
    if (parameter.requires_grad()) trainable.push_back(parameter);
  at::Tensor had_gradient = at::zeros({static_cast<int64_t>(trainable.size())}, at::kFloat);
  for (size_t i = 0; i < trainable.size(); ++i) {
    auto& parameter = trainable[i];
    if (parameter.grad().defined()) had_gradient[static_cast<int64_t>(i)] = 1;
    else parameter.mutable_grad() = at::zeros_like(parameter);
    gradients.push_back(parameter.grad());
  }
  // One flat tensor per bucket: one collective per bucket instead of one per parameter.
  const auto buckets = buckets_of(gradients);
  std::vector<at::Tensor> flats;
  for (const auto& bucket : buckets) flats.push_back(flatten(bucket));
  flats.push_back(trainable.empty() ? had_gradient : had_gradient.to(trainable.front().device()));
  group.all_reduce_sum(flats, what);
  for (size_t b = 0; b < buckets.size(); ++b) unflatten_into(flats[b].div_(group.size()), buckets[b]);
  had_gradient = flats.back().cpu();
  const float* had = had_gradient.data_ptr<float>();
  for (size_t i = 0; i < trainable.size(); ++i)
    if (had[i] == 0) trainable[i].mutable_grad() = at::Tensor();
}

void broadcast_from_main(ProcessGroup& group, const std::vector<at::Tensor>& tensors, const std::string& what) {
  if (group.size() == 1 || tensors.empty()) return;
  const auto buckets = buckets_of(tensors);
  std::vector<at::Tensor> flats;
  for (const auto& bucket : buckets) flats.push_back(flatten(bucket));
  group.broadcast(flats, 0, what);
  at::NoGradGuard no_grad;
  for (size_t b = 0; b < buckets.size(); ++b) unflatten_into(flats[b], buckets[b]);
}

}  // namespace dmx::dist
