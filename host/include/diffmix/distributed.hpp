// Data-parallel work over several processes, on LibTorch's own c10d: a TCPStore rendezvous and a Gloo (CPU) or NCCL
// (CUDA) process group. Processes find each other the way torchrun, SLURM scripts and Kubernetes jobs describe them:
// RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in the environment.
//
//   if (auto world = dmx::dist::world_from_environment()) {
//     auto group = dmx::dist::ProcessGroup::connect(*world, {dmx::dist::Backend::Gloo});
//     ...; loss.backward(); dmx::dist::average_gradients(*group, parameters); optimizer.step();
//   }
//
// A collective that fails (a rank crashed) or waits longer than the timeout (a rank hung) is a dmx::Error that names
// the ranks that stopped answering, and the message a failed rank left, never a silent hang.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dmx::dist {

// Where this process stands among the processes of one job.
struct World {
  int rank = 0;        // 0 .. size-1; rank 0 writes checkpoints, metrics and artifacts
  int local_rank = 0;  // rank among the processes of this host (its CUDA device)
  int size = 1;
  std::string master_addr = "127.0.0.1";  // the host of rank 0, which serves the rendezvous store
  int master_port = 29500;
};

// The world the environment describes, or std::nullopt when WORLD_SIZE is not set (a single process). A variable
// that is malformed, a missing one when WORLD_SIZE is set, or a rank outside [0, WORLD_SIZE) is a Config error that
// names it.
std::optional<World> world_from_environment();

enum class Backend { Gloo, Nccl };
// Gloo for CPU tensors, NCCL for CUDA ones.
Backend default_backend(const std::string& device);
// "gloo" or "nccl"; anything else is a Config error naming the value.
Backend parse_backend(const std::string& name);
const char* to_string(Backend backend);
// Whether this build of LibTorch has the backend.
bool backend_available(Backend backend);

struct GroupOptions {
  Backend backend = Backend::Gloo;
  // How long a collective (or the rendezvous) may wait for the slowest rank before it is an error.
  std::chrono::milliseconds timeout = std::chrono::minutes(30);
};

class ProcessGroup {
 public:
  // Joins the group: rank 0 serves the store at MASTER_ADDR:MASTER_PORT, the others connect to it; returns once
  // every rank has joined (or throws after the timeout, naming the address).
  static std::shared_ptr<ProcessGroup> connect(const World& world, const GroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int size() const;
  bool is_main() const { return rank() == 0; }
  Backend backend() const;

  // Sums each tensor in place over the ranks. `what` names the collective in errors ("gradients of step 12").
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what);
  // Starts summing `tensor` in place over the ranks and returns at once with a ticket for finish_sum, which waits
  // for it (and fails as all_reduce_sum does). Every rank must start the same sums in the same order; they may be
  // started from any thread (autograd's, for one).
  int64_t start_sum(at::Tensor tensor);
  void finish_sum(int64_t ticket, const std::string& what);
  // Overwrites each tensor with rank `root`'s.
  void broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& what);
  // Returns when every rank has called it.
  void barrier(const std::string& what);

  // Leaves this rank's error where the others look when a collective fails, so that their message can say why this
  // rank stopped. Never throws.
  void report_failure(const std::string& message) noexcept;

 private:
  struct State;
  explicit ProcessGroup(std::unique_ptr<State> state);
  [[noreturn]] void fail(const std::string& what, const std::string& cause);
  std::unique_ptr<State> state_;
};

// Averages the gradients of `parameters` over the group: flattened into buckets of about 25 MB (as
// DistributedDataParallel does), every bucket's all-reduce started before the first is waited for. A parameter
// without a gradient takes part as zeros, so every rank sends the same buckets; one that no rank has a gradient for
// is left without one.
void average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& parameters, const std::string& what);

// Averages gradients over the group while the backward pass is still running, as DistributedDataParallel does: the
// parameters are split into 25 MB buckets in reverse order (the order backward reaches them), and a bucket's
// all-reduce starts as soon as its last gradient is accumulated, while backward goes on with the layers below.
//
//   GradientReducer reducer(group, parameters);
//   for (each micro-batch) { if (last) reducer.reduce_next_backward(what); loss.backward(); }
//   reducer.finish();        // waits for the buckets; every parameter's .grad is now the average
//   optimizer.step();
//
// The results equal average_gradients'. A parameter that no gradient reached in the reduced backward (unused on
// this rank) takes part with what earlier micro-batches accumulated, or zeros, once finish() is called; one without
// a gradient on every rank is left without one.
class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<at::Tensor> parameters);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward pass is the last before the update: its gradients are reduced as they come. `what` names
  // the reduction in errors ("the gradients of step 12").
  void reduce_next_backward(const std::string& what);
  // Waits for every bucket and leaves the averages in the parameters' .grad. Without a group of several ranks,
  // or without reduce_next_backward, does nothing.
  void finish();
  // Buckets whose all-reduce started before finish() in the last reduction: the overlap with backward.
  int started_during_backward() const;
  int buckets() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Copies rank 0's values of `tensors` (parameters, buffers, optimizer state) to every rank.
void broadcast_from_main(ProcessGroup& group, const std::vector<at::Tensor>& tensors, const std::string& what);

// Rank `rank`'s share of `count` items split into `size` contiguous parts as equal as possible: [begin, end).
struct Share {
  int64_t begin = 0;
  int64_t end = 0;
};
Share share_of(int64_t count, int rank, int size);

}  // namespace dmx::dist
