// `diffmix sd img2img|txt2img` as a user runs it: the built binary on the fixture model writes PNGs, and with the
// recorded random draws supplied through --noise it reproduces the recorded diffusers run.
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/image_processor.hpp"
#include "pipeline_case.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using dmx::test::kParityTolerance;
using dmx::test::PipelineCase;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class SdCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* build = std::getenv("DIFFMIX_BUILD_DIR");
    ASSERT_TRUE(build && *build) << "DIFFMIX_BUILD_DIR is not set";
    binary_ = std::string(build) + "/bin/diffmix";
    ASSERT_TRUE(fs::exists(binary_)) << binary_;
    std::string pattern = (fs::temp_directory_path() / "diffmix-sd-command-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  // Runs `diffmix sd <arguments>` and returns its exit status.
  int run(const std::string& arguments) const {
    const std::string command = quoted(binary_) + " sd " + arguments + " > " + quoted(dir_ + "/log.txt") + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string log() const {
    std::ifstream in(dir_ + "/log.txt");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<std::string> pngs(const std::string& folder) const {
    std::vector<std::string> found;
    if (!fs::exists(folder)) return found;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.path().extension() == ".png") found.push_back(entry.path().string());
    return found;
  }

  std::string binary_;
  std::string dir_;
};

TEST_F(SdCommand, Img2ImgWithRecordedNoiseReproducesTheDiffusersRun) {
  PipelineCase recorded("pipeline_img2img");
  const auto reference = recorded.tensor("init_image_uint8");
  dmx::io::write_image(dir_ + "/reference.png", reference);
  dmx::io::save_safetensors(dir_ + "/noise.safetensors", {{"posterior_noise", recorded.tensor("vae_sample_eps")},
                                                         {"noise", recorded.tensor("noise")}});
  const int status = run("img2img --model " + quoted(sd_fixture_dir() + "/model") + " --image " +
                         quoted(dir_ + "/reference.png") + " --prompt " +
                         quoted(recorded.meta("prompt").get<std::string>()) + " --strength " +
                         recorded.meta("strength").dump() + " --steps " + recorded.meta("steps").dump() +
                         " --guidance " + recorded.meta("guidance_scale").dump() + " --noise " +
                         quoted(dir_ + "/noise.safetensors") + " --save-latents --out " + quoted(dir_ + "/out"));
  ASSERT_EQ(status, 0) << log();
  EXPECT_NE(log().find("step"), std::string::npos) << "no progress was logged:\n" << log();

  const auto written = pngs(dir_ + "/out");
  ASSERT_EQ(written.size(), 1u);
  const auto image = dmx::io::read_image(written.front());
  EXPECT_EQ(image.sizes(), reference.sizes());
  const auto expected = dmx::sd::images_to_uint8(recorded.tensor("image"))[0];
  EXPECT_LE((image.to(at::kInt) - expected.to(at::kInt)).abs().max().item<int>(), 1);

  const auto latents = dmx::io::SafetensorsFile::open(dir_ + "/out/latents.safetensors").tensor("latents");
  EXPECT_LT(relative_error(latents, recorded.tensor("final_latents")), kParityTolerance);
}

TEST_F(SdCommand, Img2ImgWritesOnePngPerImageAndCopy) {
  PipelineCase recorded("pipeline_img2img");
  dmx::io::write_image(dir_ + "/a.png", recorded.tensor("init_image_uint8"));
  dmx::io::write_image(dir_ + "/b.png", recorded.tensor("init_image_uint8").flip(1).contiguous());
  const int status = run("img2img --model " + quoted(sd_fixture_dir() + "/model") + " --image " +
                         quoted(dir_ + "/a.png") + " --image " + quoted(dir_ + "/b.png") +
                         " --prompt 'a photo of a dog' --strength 0.5 --steps 4 --batch 2 --seed 3 --out " +
                         quoted(dir_ + "/out"));
  ASSERT_EQ(status, 0) << log();
  EXPECT_EQ(pngs(dir_ + "/out").size(), 4u);
}

TEST_F(SdCommand, TxtToImgWritesPngs) {
  const int status = run("txt2img --model " + quoted(sd_fixture_dir() + "/model") +
                         " --prompt 'a red fox' --prompt 'a blue bird' --steps 2 --out " + quoted(dir_ + "/out"));
  ASSERT_EQ(status, 0) << log();
  EXPECT_EQ(pngs(dir_ + "/out").size(), 2u);
}

TEST_F(SdCommand, AMissingImageIsANotFoundExitNamingIt) {
  const int status = run("img2img --model " + quoted(sd_fixture_dir() + "/model") + " --image " +
                         quoted(dir_ + "/missing.png") + " --prompt 'a cat' --steps 2 --out " + quoted(dir_ + "/out"));
  EXPECT_EQ(status, 66) << log();  // EX_NOINPUT
  EXPECT_NE(log().find("missing.png"), std::string::npos) << log();
  EXPECT_TRUE(pngs(dir_ + "/out").empty());
}

}  // namespace
