// BoundedQueue: order across threads, closing, and a producer blocked on a full queue.
#include <gtest/gtest.h>

#include <thread>

#include "diffmix/data/bounded_queue.hpp"
#include "diffmix/error.hpp"

namespace {

using dmx::data::BoundedQueue;

TEST(BoundedQueue, KeepsOrderAcrossThreadsAndNeverHoldsMoreThanItsCapacity) {
  BoundedQueue<int> queue(4);
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(queue.push(i));
    queue.close();
  });
  int expected = 0;
  while (auto item = queue.pop()) {
    EXPECT_LE(queue.size(), queue.capacity());
    EXPECT_EQ(*item, expected++);
  }
  producer.join();
  EXPECT_EQ(expected, 1000);
}

TEST(BoundedQueue, AClosedQueueIsDrainedThenEnds) {
  BoundedQueue<int> queue(4);
  ASSERT_TRUE(queue.push(1));
  ASSERT_TRUE(queue.push(2));
  queue.close();
  EXPECT_FALSE(queue.push(3));
  EXPECT_EQ(queue.pop(), 1);
  EXPECT_EQ(queue.pop(), 2);
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueue, ClosingReleasesAProducerWaitingOnAFullQueue) {
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.push(1));
  bool pushed = true;
  std::thread producer([&] { pushed = queue.push(2); });  // waits: the queue is full and nobody pops
  queue.close();
  producer.join();
  EXPECT_FALSE(pushed);
  EXPECT_EQ(queue.pop(), 1);
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueue, ZeroCapacityIsRefused) { EXPECT_THROW(BoundedQueue<int>(0), dmx::Error); }

}  // namespace
