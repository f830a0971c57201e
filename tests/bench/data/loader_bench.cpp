// Loader throughput on 224-px training batches from JPEG photos, and the decode+resize cost per image.
//
//   build/tests/bench/data/data_loader_bench [--benchmark_filter=Loader]
//
// Setup writes 256 JPEGs of 500×375 (the typical CUB photo size), quality 90, as an ImageFolder of 4 classes in a
// temporary folder. "images/s" is the rate counter to compare.
#include <benchmark/benchmark.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <filesystem>
#include <random>

#include "diffmix/data/datasets.hpp"
#include "diffmix/data/loader.hpp"
#include "diffmix/io/image.hpp"

#ifdef DIFFMIX_BENCH_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace {

constexpr int kImages = 256;
constexpr int64_t kSize = 224;

// A photo-like picture: smooth gradients plus noise, so that JPEG has realistic work to do.
at::Tensor photo(int64_t height, int64_t width, int seed) {
  at::manual_seed(seed);
  const at::Tensor y = at::linspace(0, 1, height).view({height, 1, 1});
  const at::Tensor x = at::linspace(0, 1, width).view({1, width, 1});
  const at::Tensor base = at::cat({y.expand({height, width, 1}) * 180, x.expand({height, width, 1}) * 200,
                                   (x * y).expand({height, width, 1}) * 255},
                                  2);
  return (base + at::randn({height, width, 3}) * 20).clamp(0, 255).to(at::kByte).contiguous();
}

class JpegFolder {
 public:
  JpegFolder() {
    root_ = std::filesystem::temp_directory_path() / ("diffmix-loader-bench-" + std::to_string(std::random_device{}()));
    for (int i = 0; i < kImages; ++i) {
      const auto folder = root_ / ("class_" + std::to_string(i % 4));
      std::filesystem::create_directories(folder);
      const std::string path = (folder / ("img_" + std::to_string(i) + ".jpg")).string();
      dmx::io::write_image(path, photo(375, 500, i), 90);
      paths_.push_back(path);
    }
  }
  ~JpegFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  std::string root() const { return root_.string(); }
  const std::vector<std::string>& paths() const { return paths_; }

  static const JpegFolder& instance() {
    static const JpegFolder folder;
    return folder;
  }

 private:
  std::filesystem::path root_;
  std::vector<std::string> paths_;
};

std::vector<std::vector<uint8_t>> jpeg_bytes() {
  std::vector<std::vector<uint8_t>> all;
  for (const auto& path : JpegFolder::instance().paths()) all.push_back(dmx::io::read_file(path));
  return all;
}

// Decode (from memory) + antialiased resize of the short side to 224, as the train transform's first step does.
void BM_DecodeResize_TurboJpeg(benchmark::State& state) {
  const auto files = jpeg_bytes();
  dmx::io::DecodeOptions options;
  options.min_size = state.range(0) ? kSize : 0;  // 1: let the DCT decode at 5/8 scale
  dmx::data::Transforms resize;
  resize.resize(kSize);
  dmx::data::SampleRng rng(0, dmx::data::RandomStream::Transform, 0, 0);
  size_t i = 0;
  for (auto _ : state) {
    const auto& bytes = files[i++ % files.size()];
    benchmark::DoNotOptimize(resize.apply(dmx::io::decode_image(bytes, "bench.jpg", options), rng));
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(state.range(0) ? "DCT-scaled decode" : "full decode");
}
BENCHMARK(BM_DecodeResize_TurboJpeg)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

#ifdef DIFFMIX_BENCH_WITH_OPENCV
// OpenCV's imdecode + resize (INTER_AREA when shrinking, the closest to an antialiased resize), to uint8 and then
// float, for comparison. (IMREAD_REDUCED_COLOR_2 would give 250×187 here, too small for 224 px.)
void BM_DecodeResize_OpenCv(benchmark::State& state) {
  const auto files = jpeg_bytes();
  size_t i = 0;
  for (auto _ : state) {
    const auto& bytes = files[i++ % files.size()];
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
    cv::Mat image = cv::imdecode(encoded, cv::IMREAD_COLOR);
    const double scale = static_cast<double>(kSize) / std::min(image.rows, image.cols);
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(static_cast<int>(image.cols * scale), static_cast<int>(image.rows * scale)), 0,
               0, cv::INTER_AREA);
    cv::Mat as_float;
    resized.convertTo(as_float, CV_32FC3, 1.0 / 255.0);
    benchmark::DoNotOptimize(as_float.data);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeResize_OpenCv)->Unit(benchmark::kMillisecond);
#endif

// Whole training batches (Resize 224 → RandomCrop 224 pad 8 → flip → normalize, batch 32) with 1 and 2 workers.
void BM_Loader(benchmark::State& state) {
  const auto dataset = dmx::data::open_image_folder(JpegFolder::instance().root(), "");
  auto mixer = std::make_shared<dmx::data::Mixer>(dataset, nullptr);
  dmx::data::LoaderOptions options;
  options.batch_size = 32;
  options.workers = static_cast<int>(state.range(0));
  options.prefetch_batches = 4;
  dmx::data::Loader loader(mixer, dmx::data::Transforms::train(kSize), options);
  int64_t images = 0;
  uint64_t epoch = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto batch = loader.next()) images += batch->images.size(0);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  state.SetLabel(std::to_string(options.workers) + " worker(s), intra-op threads " +
                 std::to_string(at::get_num_threads()));
}
BENCHMARK(BM_Loader)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
