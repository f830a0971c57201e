#include "diffmix/distributed.hpp"

#include <c10/util/Exception.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if DIFFMIX_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "diffmix/error.hpp"
#include "diffmix/torch_compat.hpp"

namespace dmx::dist {
namespace {

// Where a rank that fails leaves its message, and where the ranks that saw a collective fail check in.
std::string failure_key(int rank) { return "diffmix/failed/" + std::to_string(rank); }
std::string answer_key(int rank) { return "diffmix/answered/" + std::to_string(rank); }

// How long the ranks that saw a collective fail wait for each other before naming the ones that did not check in.
constexpr auto kCheckInWait = std::chrono::seconds(3);

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// LibTorch's errors end in a C++ stack trace; the message alone is what a user needs.
std::string cause_of(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) return torch_error->what_without_backtrace();
  return error.what();
}

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

std::shared_ptr<::gloo::transport::Device> gloo_device(const World& world) {
  // On one host, the loopback interface; across hosts, GLOO_SOCKET_IFNAME or this host's name, as torch.distributed.
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<compat::CollectiveBackend> make_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                          const World& world, const GroupOptions& options) {
  if (options.backend == Backend::Gloo) {
    auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
    gloo->devices.push_back(gloo_device(world));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, world.rank, world.size, gloo);
  }
#if DIFFMIX_WITH_NCCL
  // Without blocking wait, an NCCL collective that times out is ended by LibTorch's watchdog, which takes the whole
  // process down; with it, wait() throws and the failure is reported like Gloo's, naming the ranks that stopped.
  // (LibTorch 2.2 renamed the variable; both are set, and a value the user chose is kept.)
  ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
  ::setenv("NCCL_BLOCKING_WAIT", "1", 0);
  auto nccl = c10d::ProcessGroupNCCL::Options::create();
  nccl->timeout = options.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, world.rank, world.size, nccl);
#else
  throw unsupported("distributed backend nccl: this build of LibTorch has no NCCL; use backend gloo");
#endif
}

using Works = std::vector<c10::intrusive_ptr<c10d::Work>>;

// One collective per tensor (a vector handed to one c10d call would mean one tensor per device), all started before
// any is waited for.
template <class Start>
Works per_tensor(std::vector<at::Tensor>& tensors, const Start& start) {
  Works works;
  for (auto& tensor : tensors) {
    std::vector<at::Tensor> one{tensor};
    works.push_back(start(one));
  }
  return works;
}

// Waits for the collectives `start` begins; the cause when one fails, else nothing.
template <class Start>
std::optional<std::string> wait_for(const Start& start) {
  try {
    for (auto& work : start()) work->wait();
    return std::nullopt;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    return cause_of(error);
  }
}

}  // namespace

struct ProcessGroup::State {
  World world;
  GroupOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<compat::CollectiveBackend> backend;
  std::mutex pending_mutex;  // start_sum may be called from autograd's threads
  std::map<int64_t, c10::intrusive_ptr<c10d::Work>> pending;
  int64_t next_ticket = 0;
};

bool backend_available(Backend backend) {
#if DIFFMIX_WITH_NCCL
  return backend == Backend::Gloo || compat::cuda_available();
#else
  return backend == Backend::Gloo;
#endif
}

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const World& world, const GroupOptions& options) {
  if (world.size < 1 || world.rank < 0 || world.rank >= world.size)
    throw invalid_argument("distributed: rank " + std::to_string(world.rank) + " is outside a world of " +
                           std::to_string(world.size));
  if (!backend_available(options.backend))
    throw unsupported(std::string("distributed backend ") + to_string(options.backend) +
                      " is not available in this build of LibTorch");
  const std::string where = world.master_addr + ":" + std::to_string(world.master_port);
  auto state = std::make_unique<State>();
  state->world = world;
  state->options = options;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(world.master_port);
    store_options.isServer = world.rank == 0;
    store_options.numWorkers = static_cast<size_t>(world.size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    state->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
    state->backend = make_backend(state->store, world, options);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    throw io_error("distributed: rank " + std::to_string(world.rank) + " of " + std::to_string(world.size) +
                   " could not join the group at " + where + " (MASTER_ADDR:MASTER_PORT) within " +
                   std::to_string(options.timeout.count() / 1000) + " s: " + cause_of(error));
  }
  spdlog::debug("distributed: rank {} of {} joined at {} ({})", world.rank, world.size, where,
                to_string(options.backend));
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(std::move(state)));
}

ProcessGroup::ProcessGroup(std::unique_ptr<State> state) : state_(std::move(state)) {}
ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return state_->world.rank; }
int ProcessGroup::size() const { return state_->world.size; }
Backend ProcessGroup::backend() const { return state_->options.backend; }

void ProcessGroup::report_failure(const std::string& message) noexcept {
  try {
    state_->store->setTimeout(std::chrono::seconds(2));
    state_->store->set(failure_key(rank()), bytes(message));
  } catch (...) {
    // The store is gone with rank 0; the others find out by themselves.
  }
}

// A collective failed: the peers' connections closed (a rank died) or the timeout passed (a rank hung). The ranks
// that saw it check in at the store, wait a moment for each other, and name the ranks that did not, with the message
// a failed rank left.
void ProcessGroup::fail(const std::string& what, const std::string& cause) {
  const std::string prefix = "distributed: rank " + std::to_string(rank()) + ": " + what + " failed";
  std::string missing;
  try {
    state_->store->setTimeout(std::chrono::seconds(2));
    state_->store->set(answer_key(rank()), bytes("1"));
    std::this_thread::sleep_for(kCheckInWait);
    for (int other = 0; other < size(); ++other) {
      if (other == rank() || state_->store->check({answer_key(other)})) continue;
      std::string reason = "did not answer (crashed, killed or hung)";
      if (state_->store->check({failure_key(other)})) {
        const auto message = state_->store->get(failure_key(other));
        reason = "failed: " + std::string(message.begin(), message.end());
      }
      missing += (missing.empty() ? "" : "; ") + std::string("rank ") + std::to_string(other) + " " + reason;
    }
  } catch (const std::exception&) {
    throw io_error(prefix + ": rank 0, which serves the rendezvous store at " + state_->world.master_addr + ":" +
                   std::to_string(state_->world.master_port) + ", is gone (" + cause + ")");
  }
  if (missing.empty()) missing = "every rank answered; the collective itself failed";
  throw io_error(prefix + ": " + missing + " (" + cause + ")");
}

void ProcessGroup::all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what) {
  const auto cause = wait_for([&] {
    return per_tensor(tensors, [this](std::vector<at::Tensor>& one) { return state_->backend->allreduce(one); });
  });
  if (cause) fail(what, *cause);
}

int64_t ProcessGroup::start_sum(at::Tensor tensor) {
  std::lock_guard<std::mutex> lock(state_->pending_mutex);
  std::vector<at::Tensor> one{std::move(tensor)};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = state_->backend->allreduce(one);
  } catch (const std::exception&) {
    // It failed to start (a peer is gone): finish_sum reports it, with the ranks named, on the caller's thread.
  }
  state_->pending.emplace(state_->next_ticket, std::move(work));
  return state_->next_ticket++;
}

void ProcessGroup::finish_sum(int64_t ticket, const std::string& what) {
  c10::intrusive_ptr<c10d::Work> work;
  {
    std::lock_guard<std::mutex> lock(state_->pending_mutex);
    auto found = state_->pending.find(ticket);
    if (found == state_->pending.end())
      throw invalid_argument("distributed: " + what + ": no sum was started with ticket " + std::to_string(ticket));
    work = std::move(found->second);
    state_->pending.erase(found);
  }
  if (!work) fail(what, "the all-reduce could not start");
  const auto cause = wait_for([&] { return Works{work}; });
  if (cause) fail(what, *cause);
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  const auto cause = wait_for([&] {
    return per_tensor(tensors, [&](std::vector<at::Tensor>& one) { return state_->backend->broadcast(one, options); });
  });
  if (cause) fail(what, *cause);
}

void ProcessGroup::barrier(const std::string& what) {
  // NCCL's barrier is a collective on one device: this rank's, not the rank % device-count guess NCCL would make.
  c10d::BarrierOptions options;
  if (state_->options.backend == Backend::Nccl) options.device_ids = {state_->world.local_rank};
  const auto cause = wait_for([&] { return Works{state_->backend->barrier(options)}; });
  if (cause) fail(what, *cause);
}

}  // namespace dmx::dist
