// c10d process groups as diffmix uses them, with the ranks on threads of this process over the loopback interface:
// the environment a launcher sets, collectives, gradient averaging in buckets (after backward and during it), and
// failures that name the rank.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <functional>
#include <thread>

#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"

namespace {

using namespace std::chrono_literals;
using dmx::dist::ProcessGroup;
using dmx::dist::World;

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Runs body(group) on `size` threads, one rank each, and rethrows the first rank's error.
void on_ranks(int size, const std::function<void(ProcessGroup&)>& body, std::chrono::milliseconds timeout = 30s) {
  const int port = free_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank)
    threads.emplace_back([&, rank] {
      try {
        auto group = ProcessGroup::connect(World{rank, rank, size, "127.0.0.1", port},
                                           {dmx::dist::Backend::Gloo, timeout});
        body(*group);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);
}

class Environment {
 public:
  Environment(std::initializer_list<std::pair<const char*, const char*>> variables) {
    for (const char* name : {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
    for (const auto& [name, value] : variables) setenv(name, value, 1);
  }
  ~Environment() {
    for (const char* name : {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
  }
};

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const dmx::Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(World, ComesFromTheLaunchersEnvironment) {
  {
    const Environment none({});
    EXPECT_FALSE(dmx::dist::world_from_environment());
  }
  {
    const Environment torchrun({{"RANK", "3"}, {"LOCAL_RANK", "1"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "node7"},
                                {"MASTER_PORT", "29400"}});
    const auto world = dmx::dist::world_from_environment();
    ASSERT_TRUE(world);
    EXPECT_EQ(world->rank, 3);
    EXPECT_EQ(world->local_rank, 1);
    EXPECT_EQ(world->size, 4);
    EXPECT_EQ(world->master_addr, "node7");
    EXPECT_EQ(world->master_port, 29400);
  }
  {
    const Environment outside({{"RANK", "4"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}});
    EXPECT_NE(error_of([] { dmx::dist::world_from_environment(); }).find("RANK=4 is not an integer in [0, 3]"),
              std::string::npos);
  }
  {
    const Environment bad_port({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "x1"}});
    EXPECT_NE(error_of([] { dmx::dist::world_from_environment(); }).find("MASTER_PORT=x1"), std::string::npos);
  }
  {
    const Environment no_address({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "5"}});
    EXPECT_NE(error_of([] { dmx::dist::world_from_environment(); }).find("MASTER_ADDR is not"), std::string::npos);
  }
}

TEST(World, SharesAreContiguousAndAsEqualAsPossible) {
  const std::vector<std::pair<int64_t, int64_t>> expected{{0, 4}, {4, 7}, {7, 10}};
  for (int rank = 0; rank < 3; ++rank) {
    const auto share = dmx::dist::share_of(10, rank, 3);
    EXPECT_EQ(share.begin, expected[rank].first);
    EXPECT_EQ(share.end, expected[rank].second);
  }
  EXPECT_EQ(dmx::dist::share_of(1, 1, 2).begin, dmx::dist::share_of(1, 1, 2).end);  // an empty share
  EXPECT_EQ(dmx::dist::parse_backend("nccl"), dmx::dist::Backend::Nccl);
  EXPECT_EQ(dmx::dist::default_backend("cuda:1"), dmx::dist::Backend::Nccl);
  EXPECT_EQ(dmx::dist::default_backend("cpu"), dmx::dist::Backend::Gloo);
  EXPECT_THROW(dmx::dist::parse_backend("mpi"), dmx::Error);
}

TEST(ProcessGroup, SumsAndBroadcastsOverRanks) {
  on_ranks(3, [](ProcessGroup& group) {
    std::vector<at::Tensor> values{at::full({4}, group.rank() + 1.0), at::full({2}, 10.0 * group.rank())};
    group.all_reduce_sum(values, "test sum");
    EXPECT_TRUE(values[0].equal(at::full({4}, 6.0)));
    EXPECT_TRUE(values[1].equal(at::full({2}, 30.0)));
    std::vector<at::Tensor> mine{at::full({3}, static_cast<double>(group.rank()))};
    group.broadcast(mine, 2, "test broadcast");
    EXPECT_TRUE(mine[0].equal(at::full({3}, 2.0)));
    group.barrier("test barrier");
  });
}

// A 28 MB parameter (a bucket of its own), three small ones and one that is not trained.
std::vector<at::Tensor> bucket_test_parameters() {
  return {at::zeros({7'000'000}).requires_grad_(), at::zeros({5, 3}).requires_grad_(), at::zeros({2}).requires_grad_(),
          at::zeros({4}).requires_grad_(), at::zeros({6})};
}

// Gradients split over several buckets (one parameter alone is larger than a 25 MB bucket) average exactly; a
// parameter with a gradient on one rank only is averaged with zeros; one without any gradient keeps none.
TEST(ProcessGroup, AveragesGradientsInBuckets) {
  on_ranks(2, [](ProcessGroup& group) {
    const double r = group.rank();
    std::vector<at::Tensor> parameters = bucket_test_parameters();
    parameters[0].mutable_grad() = at::full({7'000'000}, 1.0 + r);
    parameters[1].mutable_grad() = at::arange(15, at::kFloat).view({5, 3}) * (r + 1);
    if (group.rank() == 0) parameters[2].mutable_grad() = at::full({2}, 4.0);
    dmx::dist::average_gradients(group, parameters, "test gradients");
    EXPECT_TRUE(parameters[0].grad().equal(at::full({7'000'000}, 1.5)));
    EXPECT_TRUE(parameters[1].grad().equal(at::arange(15, at::kFloat).view({5, 3}) * 1.5));
    EXPECT_TRUE(parameters[2].grad().equal(at::full({2}, 2.0)));
    EXPECT_FALSE(parameters[3].grad().defined());
    EXPECT_FALSE(parameters[4].grad().defined());

    std::vector<at::Tensor> state{at::full({3}, r), at::full({2, 2}, 5 + r)};
    dmx::dist::broadcast_from_main(group, state, "test state");
    EXPECT_TRUE(state[0].equal(at::zeros({3})));
    EXPECT_TRUE(state[1].equal(at::full({2, 2}, 5.0)));
  });
}

// The reducer averages the gradients of the last micro-batch's backward as they arrive: a parameter only earlier
// micro-batches reached takes part with what they accumulated, one used on one rank only is averaged with zeros, and
// one no rank used keeps no gradient, as average_gradients does after backward.
TEST(GradientReducer, AveragesWhatTheLastBackwardAccumulated) {
  on_ranks(2, [](ProcessGroup& group) {
    const double r = group.rank();
    std::vector<at::Tensor> parameters = bucket_test_parameters();
    std::shared_ptr<ProcessGroup> shared(&group, [](ProcessGroup*) {});
    dmx::dist::GradientReducer reducer(shared, parameters);
    EXPECT_EQ(reducer.buckets(), 2) << "the 28 MB parameter is a bucket of its own";
    const at::Tensor pattern = at::arange(15, at::kFloat).view({5, 3});
    ((parameters[0] * 1.0).sum() + (parameters[1] * pattern * (r + 1)).sum()).backward();
    reducer.reduce_next_backward("test gradients");
    at::Tensor last = (parameters[0] * (1.0 + r)).sum();
    if (group.rank() == 0) last = last + (parameters[2] * 4.0).sum();
    last.backward();
    reducer.finish();
    EXPECT_TRUE(parameters[0].grad().equal(at::full({7'000'000}, 2.5)));
    EXPECT_TRUE(parameters[1].grad().equal(pattern * 1.5));
    EXPECT_TRUE(parameters[2].grad().equal(at::full({2}, 2.0)));
    EXPECT_FALSE(parameters[3].grad().defined());
    EXPECT_FALSE(parameters[4].grad().defined());
  });
}

// When every parameter gets its gradient, every bucket's all-reduce starts before backward returns.
TEST(GradientReducer, StartsEveryBucketDuringBackward) {
  on_ranks(2, [](ProcessGroup& group) {
    const double r = group.rank();
    std::vector<at::Tensor> parameters{at::ones({7'000'000}).requires_grad_(), at::ones({7'000'000}).requires_grad_(),
                                       at::ones({3}).requires_grad_()};
    std::shared_ptr<ProcessGroup> shared(&group, [](ProcessGroup*) {});
    dmx::dist::GradientReducer reducer(shared, parameters);
    ASSERT_EQ(reducer.buckets(), 3);
    for (int step = 1; step <= 2; ++step) {
      for (auto& parameter : parameters) parameter.mutable_grad() = at::Tensor();
      reducer.reduce_next_backward("test gradients of step " + std::to_string(step));
      ((parameters[0] * (1 + r)).sum() + (parameters[1] * (3 * r)).sum() + (parameters[2] * step).sum()).backward();
      EXPECT_EQ(reducer.started_during_backward(), 3) << "step " << step;
      reducer.finish();
      EXPECT_TRUE(parameters[0].grad().equal(at::full({7'000'000}, 1.5)));
      EXPECT_TRUE(parameters[1].grad().equal(at::full({7'000'000}, 1.5)));
      EXPECT_TRUE(parameters[2].grad().equal(at::full({3}, static_cast<double>(step))));
    }
  });
}

// Rank 1 fails (and says why) before a collective: rank 0's collective fails, and its error names rank 1 and the
// reason, instead of waiting forever.
TEST(ProcessGroup, ACollectiveAfterARankFailedNamesIt) {
  const std::string message = error_of([] {
    on_ranks(2, [](ProcessGroup& group) {
      if (group.rank() == 1) {
        group.report_failure("config error: /data/run.toml:3: unknown key 'lr_rate' (test)");
        std::this_thread::sleep_for(12s);  // stays connected: rank 0 finds out by the timeout
        return;
      }
      std::vector<at::Tensor> values{at::ones({8})};
      group.all_reduce_sum(values, "the gradients of step 3");
    }, 5s);  // long enough to join on a loaded machine
  });
  EXPECT_NE(message.find("rank 0: the gradients of step 3 failed"), std::string::npos) << message;
  EXPECT_NE(message.find("rank 1 failed: config error: /data/run.toml:3: unknown key 'lr_rate' (test)"),
            std::string::npos) << message;
}

// Rank 1 hangs: rank 0 gives up after the timeout and names it.
TEST(ProcessGroup, AHungRankIsNamedAfterTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const std::string message = error_of([] {
    on_ranks(2, [](ProcessGroup& group) {
      if (group.rank() == 1) {
        std::this_thread::sleep_for(12s);
        return;
      }
      group.barrier("the barrier after epoch 1");
    }, 5s);  // long enough to join on a loaded machine
  });
  EXPECT_NE(message.find("rank 0: the barrier after epoch 1 failed: rank 1 did not answer"), std::string::npos)
      << message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

}  // namespace
