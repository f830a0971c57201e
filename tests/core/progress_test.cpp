#include <gtest/gtest.h>

#include <thread>

#include "diffmix/progress.hpp"

namespace {

TEST(Progress, LineShowsCountPercentRateAndEta) {
  dmx::Progress progress("synthesize", 200, "img", 1000.0);
  progress.advance(50);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  progress.advance(50);
  const std::string line = progress.line("loss 0.5");
  EXPECT_NE(line.find("synthesize 100/200 (50.0%)"), std::string::npos) << line;
  EXPECT_NE(line.find("img/s ETA "), std::string::npos) << line;
  EXPECT_NE(line.find("loss 0.5"), std::string::npos) << line;
  EXPECT_GT(progress.rate(), 0.0);
}

TEST(Progress, ResumedWorkCountsItsRateFromTheResumePoint) {
  dmx::Progress progress("train", 1000, "batch", 1000.0);
  progress.set(900);  // resumed: 900 were done by an earlier run
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  progress.advance(10);
  // 10 batches in ~20 ms is ~500/s; counting the 900 resumed ones would claim tens of thousands per second.
  EXPECT_LT(progress.rate(), 2000.0);
}

TEST(Progress, SummaryCountsInPluralUnits) {
  dmx::Progress images("encode", 20, "image", 1000.0);
  images.advance(20);
  EXPECT_EQ(images.summary("ok").rfind("encode done: 20 images in 0:00 (", 0), 0u) << images.summary("ok");
  EXPECT_NE(images.summary("ok").find(" image/s) ok"), std::string::npos) << images.summary("ok");
  dmx::Progress batches("epoch 1", 3, "batch", 1000.0);
  batches.advance(1);
  EXPECT_NE(batches.summary().find("done: 1 batch in"), std::string::npos) << batches.summary();
  batches.advance(2);
  EXPECT_NE(batches.summary().find("done: 3 batches in"), std::string::npos) << batches.summary();
}

TEST(Progress, DurationsAreFormattedAsClockTime) {
  EXPECT_EQ(dmx::format_duration(5), "0:05");
  EXPECT_EQ(dmx::format_duration(125), "2:05");
  EXPECT_EQ(dmx::format_duration(3723), "1:02:03");
  EXPECT_EQ(dmx::format_duration(-1), "?");
}

}  // namespace
