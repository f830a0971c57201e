// Gradient averaging (after backward, or overlapped with it) and state broadcast over a process group, in buckets.
#include <ATen/ATen.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> members;  // parameter indices
    int64_t numel = 0;
    at::Tensor flat;              // this reduction's gradients, flattened
    size_t waiting = 0;           // members whose gradient has not arrived
    int64_t ticket = -1;
  };

  std::shared_ptr<ProcessGroup> group;
  std::vector<at::Tensor> parameters;  // the trainable ones
  std::vector<Bucket> buckets;          // in reverse parameter order: the order backward reaches them
  std::vector<size_t> bucket_of;
  std::vector<int64_t> offset_of;       // in its bucket's flat tensor
  std::vector<unsigned> hooks;
  std::mutex mutex;
  bool reducing = false;
  std::string what;
  std::vector<char> arrived, had_gradient;
  size_t next_to_start = 0;
  int started_early = 0;
  bool finishing = false;

  at::Tensor slot(size_t i) {
    return buckets[bucket_of[i]].flat.narrow(0, offset_of[i], parameters[i].numel());
  }

  // Buckets start strictly in order, so that every rank starts the same all-reduces in the same order whatever
  // order its gradients arrive in.
  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].waiting == 0) {
      auto& bucket = buckets[next_to_start++];
      bucket.ticket = group->start_sum(bucket.flat);
      if (!finishing) ++started_early;
    }
  }

  // Autograd's hook on parameter i, before its gradient of this backward is accumulated into .grad: the bucket gets
  // what .grad will hold.
  void arrive(size_t i, const at::Tensor& gradient) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!reducing || arrived[i]) return;
    at::NoGradGuard no_grad;
    const at::Tensor& accumulated = parameters[i].grad();
    auto target = slot(i);
    if (accumulated.defined()) target.copy_(accumulated.reshape({-1})).add_(gradient.reshape({-1}));
    else target.copy_(gradient.reshape({-1}));
    arrived[i] = had_gradient[i] = 1;
    --buckets[bucket_of[i]].waiting;
    start_ready_buckets();
  }
};

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> parameters)
    : state_(std::make_shared<State>()) {
  auto& state = *state_;
  state.group = std::move(group);
  for (auto& parameter : parameters)
    if (parameter.requires_grad()) state.parameters.push_back(parameter);
  if (!state.group || state.group->size() == 1) return;
  const size_t count = state.parameters.size();
  state.bucket_of.resize(count);
  state.offset_of.resize(count);
  int64_t bytes = 0;
  for (size_t k = count; k-- > 0;) {
    const auto& parameter = state.parameters[k];
    const int64_t size = parameter.numel() * static_cast<int64_t>(parameter.element_size());
    const bool same_kind = !state.buckets.empty() &&
                           state.parameters[state.buckets.back().members.front()].scalar_type() ==
                               parameter.scalar_type() &&
                           state.parameters[state.buckets.back().members.front()].device() == parameter.device();
    if (state.buckets.empty() || !same_kind || bytes + size > kBucketBytes) {
      state.buckets.emplace_back();
      bytes = 0;
    }
    auto& bucket = state.buckets.back();
    state.bucket_of[k] = state.buckets.size() - 1;
    state.offset_of[k] = bucket.numel;
    bucket.members.push_back(k);
    bucket.numel += parameter.numel();
    bytes += size;
  }
  const std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < count; ++i)
    state.hooks.push_back(state.parameters[i].register_hook([weak, i](const at::Tensor& gradient) {
      if (const auto alive = weak.lock()) alive->arrive(i, gradient);
    }));
}

GradientReducer::~GradientReducer() {
  for (size_t i = 0; i < state_->hooks.size(); ++i) state_->parameters[i].remove_hook(state_->hooks[i]);
}

void GradientReducer::reduce_next_backward(const std::string& what) {
  auto& state = *state_;
  if (state.buckets.empty()) return;
  std::lock_guard<std::mutex> lock(state.mutex);
  state.what = what;
  state.arrived.assign(state.parameters.size(), 0);
  state.had_gradient.assign(state.parameters.size(), 0);
  for (auto& bucket : state.buckets) {
    const auto& first = state.parameters[bucket.members.front()];
    bucket.flat = at::empty({bucket.numel}, first.options().requires_grad(false));
    bucket.waiting = bucket.members.size();
    bucket.ticket = -1;
  }
  state.next_to_start = 0;
  state.started_early = 0;
  state.finishing = false;
  state.reducing = true;
}

void GradientReducer::finish() {
  auto& state = *state_;
  if (!state.reducing) return;
  at::NoGradGuard no_grad;
  {
    // Backward is over: a parameter it did not reach takes part with what it holds from earlier micro-batches.
    std::lock_guard<std::mutex> lock(state.mutex);
    state.finishing = true;
    for (size_t i = 0; i < state.parameters.size(); ++i) {
      if (state.arrived[i]) continue;
      const at::Tensor& accumulated = state.parameters[i].grad();
      if (accumulated.defined()) state.slot(i).copy_(accumulated.reshape({-1}));
      else state.slot(i).zero_();
      state.had_gradient[i] = accumulated.defined() ? 1 : 0;
      --state.buckets[state.bucket_of[i]].waiting;
    }
    state.start_ready_buckets();
    state.reducing = false;
  }
  at::Tensor had = at::tensor(std::vector<float>(state.had_gradient.begin(), state.had_gradient.end()), at::kFloat)
                       .to(state.parameters.front().device());
  const int64_t had_ticket = state.group->start_sum(had);
  for (auto& bucket : state.buckets) state.group->finish_sum(bucket.ticket, state.what);
  state.group->finish_sum(had_ticket, state.what);
  const at::Tensor had_anywhere = had.cpu();
  const float* reached = had_anywhere.data_ptr<float>();
  for (auto& bucket : state.buckets) bucket.flat.div_(state.group->size());
  for (size_t i = 0; i < state.parameters.size(); ++i) {
    auto& parameter = state.parameters[i];
    if (reached[i] == 0) parameter.mutable_grad() = at::Tensor();
    else parameter.mutable_grad() = state.slot(i).view(parameter.sizes());
  }
}

int GradientReducer::started_during_backward() const { return state_->started_early; }
int GradientReducer::buckets() const { return static_cast<int>(state_->buckets.size()); }

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
