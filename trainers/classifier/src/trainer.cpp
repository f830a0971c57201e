#include "diffmix/classifier/trainer.hpp"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>

#include "diffmix/cancellation.hpp"
#include "diffmix/classifier/accuracy.hpp"
#include "diffmix/classifier/checkpoint.hpp"
#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/loss.hpp"
#include "diffmix/classifier/lr_schedule.hpp"
#include "diffmix/classifier/sgd.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/data/loader.hpp"
#include "diffmix/data/sample_stream.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/torch_compat.hpp"
#include "metrics_log.hpp"

namespace dmx::classifier {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kEvalBatchSize = 256;

// The synthetic data's part of a run's fingerprint: another cache, mixing, or streamed source is another run.
std::string synthetic_fingerprint(const SyntheticSettings& s) {
  if (s.cache.empty()) return "";
  std::string text = " synthetic=" + s.cache + " p=" + std::to_string(s.probability) +
                     " mode=" + std::to_string(static_cast<int>(s.mode)) + " gamma=" + std::to_string(s.gamma) +
                     " filtered=" + std::to_string(s.filtered);
  if (s.soft_scaler != 1.0) text += " soft_scaler=" + std::to_string(s.soft_scaler);
  if (const auto& stream = s.stream) {
    text += " synchronous=" + std::to_string(stream->synchronous) + " per_epoch=" + std::to_string(stream->per_epoch) +
            " count=" + (stream->count ? std::to_string(*stream->count) : "-") +
            " multiplier=" + std::to_string(stream->multiplier) + " source={" + stream->source.to_toml() + "}";
  }
  return text;
}

// Settings that must match for a checkpoint to be continued.
std::string fingerprint(const TrainConfig& c, int processes) {
  const auto& d = c.data;
  std::string text = "arch=" + c.architecture + " seed=" + std::to_string(c.seed) + " data=" + d.train.kind + ":" +
                     d.train.root + ":" + d.train.split + " shots=" + std::to_string(d.train.shots) + " imbalance=" +
                     std::to_string(d.train.imbalance) + " data_seed=" + std::to_string(d.train.seed) +
                     " size=" + std::to_string(d.image_size) + " batch=" + std::to_string(c.optim.batch_size) +
                     " epochs=" + std::to_string(c.optim.epochs) + " lr=" + std::to_string(c.optim.lr) +
                     " augment=";
  for (const auto& table : c.augment) text += "{" + table.to_toml() + "}";
  if (d.resize > 0) text += " resize=" + std::to_string(d.resize);  // only when set: older runs keep their print
  if (d.test.kind != d.train.kind || d.test.root != d.train.root)
    text += " test=" + d.test.kind + ":" + d.test.root + ":" + d.test.split;
  text += synthetic_fingerprint(c.synthetic);
  // Only when several: single-process runs keep the fingerprint they always had.
  if (processes > 1) text += " processes=" + std::to_string(processes);
  for (char& ch : text)
    if (ch == '\n') ch = ' ';
  return text;
}

// The first step of both sides: Resize((resize, resize)) as the authors' code does, else the short side to the crop
// size when one is set, else nothing.
void add_resize(data::Transforms& t, const DataSettings& d, int64_t size) {
  if (d.resize > 0) t.resize(d.resize, d.resize);
  else if (d.image_size > 0) t.resize(size);
}

// The paper's recipe (docs/method.md): Resize → RandomCrop(padding) → flip → normalize; the test side replaces the
// random crop and flip by a centre crop.
data::Transforms train_transforms(const DataSettings& d, int64_t size) {
  data::Transforms t;
  add_resize(t, d, size);
  t.random_crop(size, size, d.crop_padding);
  if (d.flip > 0) t.horizontal_flip(d.flip);
  t.normalize(d.mean, d.stddev);
  return t;
}

// The synthetic samples training draws from: a finished cache, or a stream a sample source fills while training runs.
struct Synthetic {
  std::shared_ptr<const data::SyntheticPool> pool;  // null: real data only
  std::shared_ptr<data::SampleStream> stream;      // set when streaming
};

data::SampleStreamOptions stream_options(const TrainConfig& config, const data::Dataset& real) {
  const StreamSettings& settings = *config.synthetic.stream;
  data::SampleStreamOptions options;
  options.cache = config.synthetic.cache;
  options.total = settings.count ? *settings.count
                                 : std::max<int64_t>(1, std::llround(settings.multiplier * static_cast<double>(real.size())));
  options.queue = settings.queue;
  options.synchronous = settings.synchronous;
  const int64_t later_epochs = std::max<int64_t>(1, config.optim.epochs - 1);
  options.per_epoch = settings.per_epoch > 0 ? settings.per_epoch : (options.total + later_epochs - 1) / later_epochs;
  options.gamma = config.synthetic.gamma;
  options.made_by = sample_source_record(settings.source, config.seed);
  return options;
}

std::shared_ptr<data::SampleStream> start_stream(const TrainConfig& config, const data::DatasetPtr& real,
                                                 PluginRegistry& registry) {
  return std::make_shared<data::SampleStream>(create_stream_source(config, real, registry), real->num_classes(),
                                              stream_options(config, *real));
}

Synthetic open_synthetic(const TrainConfig& config, const data::DatasetPtr& real, PluginRegistry& registry) {
  if (config.synthetic.cache.empty()) return {};
  if (config.synthetic.stream) {
    auto stream = start_stream(config, real, registry);
    return {stream, stream};
  }
  data::SyntheticCacheOptions options;
  options.gamma = config.synthetic.gamma;
  if (config.synthetic.filtered) options.manifest = data::kFilteredManifestFileName;
  auto cache = data::SyntheticCache::open_any(config.synthetic.cache, real->class_names(), options);
  spdlog::info("synthetic: {} samples from {} ({})", cache->size(), config.synthetic.cache,
               config.synthetic.filtered ? "CLIP-filtered" : "all");
  return {cache, nullptr};
}

// Stops a stream when training ends, normally or not, before the loader it feeds is torn down: the loader's workers
// may be waiting for samples of a synchronous stream.
struct StreamStopper {
  std::shared_ptr<data::SampleStream> stream;
  ~StreamStopper() {
    if (stream) stream->stop();
  }
};

data::MixerOptions mixer_options(const TrainConfig& config) {
  data::MixerOptions options;
  options.seed = config.seed;
  options.mode = config.synthetic.mode;
  options.synthetic_label_scale = config.synthetic.soft_scaler;
  if (config.synthetic.probability >= 0) options.probability = config.synthetic.probability;
  else if (config.synthetic.mode != data::MixMode::Uniform) options.probability = data::kBalancedReplacementProbability;
  else options.probability = data::default_replacement_probability(config.data.train.shots);
  return options;
}

struct Evaluation {
  double top1 = 0;
  double mean_per_class = 0;
  std::vector<double> per_class;
  std::vector<TestGroupAccuracy> groups;  // with evaluation groups only
};

// One pass over this process's share of the test set, in its order (the test loader does not shuffle), so that
// sample n of the pass is image first_sample + n of the set and `groups` (may be null) can name its group. With a
// process group the counts of every share are summed, and every rank gets the whole set's accuracy.
Evaluation evaluate(Classifier& model, data::Loader* loader, int64_t num_classes, int64_t first_sample,
                    const at::Device& device, const std::optional<data::EvaluationGroups>& groups,
                    dist::ProcessGroup* group) {
  model.eval();
  AccuracyCounter counter = groups ? AccuracyCounter(num_classes, &groups->group_of,
                                                     static_cast<int64_t>(groups->names.size()))
                                   : AccuracyCounter(num_classes);
  counter.start_at_sample(first_sample);
  if (loader) {
    at::NoGradGuard no_grad;
    loader->start_epoch(0);
    while (auto batch = loader->next()) counter.add(model.forward(batch->images.to(device)), batch->labels);
  }
  model.train();
  if (group && group->size() > 1) {
    std::vector<at::Tensor> counts{counter.counts().to(device)};
    group->all_reduce_sum(counts, "evaluation");
    counter.set_counts(counts.front());
  }
  Evaluation evaluation{counter.top1(), counter.mean_per_class(), counter.per_class(), {}};
  if (groups) {
    const std::vector<double> accuracy = counter.per_group();
    for (size_t g = 0; g < accuracy.size(); ++g)
      evaluation.groups.push_back({groups->names[g], counter.group_seen()[g], accuracy[g]});
  }
  return evaluation;
}

// A test set of another kind (Waterbirds for a CUB classifier) must name the same classes in the same order.
void check_same_classes(const data::Dataset& train_set, const data::Dataset& test_set) {
  const auto& train = train_set.class_names();
  const auto& test = test_set.class_names();
  for (size_t k = 0; k < train.size() && k < test.size(); ++k)
    if (train[k] != test[k])
      throw invalid_argument(test_set.name() + ": class " + std::to_string(k) + " is '" + test[k] + "' but " +
                             train_set.name() + " calls it '" + train[k] + "'; a test set of another kind must " +
                             "have the training set's classes in the same order");
}

void write_result(const std::string& path, const TrainResult& result, const std::string& run_fingerprint) {
  nlohmann::json json = {{"fingerprint", run_fingerprint},
                         {"top1", result.top1},
                         {"mean_per_class", result.mean_per_class},
                         {"classes", result.class_names},
                         {"train_size", result.train_size},
                         {"test_size", result.test_size},
                         {"epochs", result.history.empty() ? 0 : result.history.back().epoch}};
  nlohmann::json per_class = nlohmann::json::array();
  for (double value : result.per_class) per_class.push_back(std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value));
  json["per_class"] = per_class;
  if (!result.test_groups.empty()) {
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& group : result.test_groups)
      groups.push_back({{"name", group.name}, {"images", group.images},
                        {"accuracy", std::isnan(group.accuracy) ? nlohmann::json(nullptr) : nlohmann::json(group.accuracy)}});
    json["test_groups"] = groups;
    json["worst_group"] = worst_group_accuracy(result.test_groups);
  }
  if (const EpochMetrics* best = best_evaluated_epoch(result.history))
    json["best"] = {{"epoch", best->epoch}, {"top1", best->top1}, {"mean_per_class", best->mean_per_class}};
  if (!result.shot_groups.empty()) {
    nlohmann::json groups = nlohmann::json::object();
    for (const auto& group : result.shot_groups)
      groups[data::to_string(group.group)] = {{"classes", group.classes},
                                              {"accuracy", std::isnan(group.accuracy) ? nlohmann::json(nullptr)
                                                                                      : nlohmann::json(group.accuracy)}};
    json["shot_groups"] = groups;
  }
  const std::string text = json.dump(2) + "\n";
  io::write_file_atomic(path, text.data(), text.size());
}

// The result of a run that finished earlier with the same settings, read back from result.json and metrics.jsonl;
// std::nullopt when there is none (or it is unreadable, or from other settings): then the run goes the normal way.
std::optional<TrainResult> finished_result(const TrainConfig& config, const std::string& run_fingerprint) {
  const std::string path = config.output_dir + "/result.json";
  const std::string text = io::read_text_if_exists(path);
  if (text.empty()) return std::nullopt;
  try {
    const auto json = nlohmann::json::parse(text);
    if (json.value("fingerprint", std::string()) != run_fingerprint) return std::nullopt;
    TrainResult result;
    result.output_dir = config.output_dir;
    result.top1 = json.at("top1").get<double>();
    result.mean_per_class = json.at("mean_per_class").get<double>();
    result.class_names = json.at("classes").get<std::vector<std::string>>();
    result.train_size = json.at("train_size").get<int64_t>();
    result.test_size = json.at("test_size").get<int64_t>();
    for (const auto& value : json.at("per_class"))
      result.per_class.push_back(value.is_null() ? std::nan("") : value.get<double>());
    if (json.contains("shot_groups")) {
      for (const auto group : {data::ShotGroup::Many, data::ShotGroup::Medium, data::ShotGroup::Few}) {
        const auto& entry = json.at("shot_groups").at(data::to_string(group));
        const auto& accuracy = entry.at("accuracy");
        result.shot_groups.push_back(
            {group, entry.at("classes").get<int64_t>(), accuracy.is_null() ? std::nan("") : accuracy.get<double>()});
      }
    }
    if (json.contains("test_groups"))
      for (const auto& group : json.at("test_groups")) {
        const auto& accuracy = group.at("accuracy");
        result.test_groups.push_back({group.at("name").get<std::string>(), group.at("images").get<int64_t>(),
                                      accuracy.is_null() ? std::nan("") : accuracy.get<double>()});
      }
    result.history = restore_metrics(config.output_dir + "/metrics.jsonl", json.at("epochs").get<int64_t>(),
                                     result.class_names);
    if (result.history.empty() || result.history.back().epoch != config.optim.epochs) return std::nullopt;
    return result;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string augmenter_list(const AugmentChain& chain) {
  std::string names;
  for (const auto& name : chain.names()) names += (names.empty() ? "" : ", ") + name;
  return names.empty() ? "none" : names;
}

std::string percent_label(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f%%", fraction * 100.0);
  return text;
}

// "Many (> 20 images, 40 classes) 81.20%, Medium (12 classes) 60.10%, Few (< 5, 8 classes) 35.00%".
std::string describe_shot_groups(const std::vector<data::ShotGroupAccuracy>& groups,
                                 const data::ShotThresholds& thresholds) {
  std::string text;
  for (const auto& group : groups) {
    std::string bound;
    if (group.group == data::ShotGroup::Many) bound = "> " + std::to_string(thresholds.many) + " images, ";
    if (group.group == data::ShotGroup::Few) bound = "< " + std::to_string(thresholds.few) + ", ";
    text += (text.empty() ? "" : ", ") + std::string(data::to_string(group.group)) + " (" + bound +
            std::to_string(group.classes) + " classes) " +
            (std::isnan(group.accuracy) ? "-" : percent_label(group.accuracy));
  }
  return text;
}

// "landbird on land 73.48% (3498 images), ..., worst 56.70%".
std::string describe_test_groups(const std::vector<TestGroupAccuracy>& groups) {
  std::string text;
  for (const auto& group : groups)
    text += group.name + " " + (std::isnan(group.accuracy) ? std::string("-") : percent_label(group.accuracy)) + " (" +
            std::to_string(group.images) + " images), ";
  return text + "worst " + percent_label(worst_group_accuracy(groups));
}

std::vector<std::pair<std::string, at::Tensor>> named_parameters(Classifier& model) {
  std::vector<std::pair<std::string, at::Tensor>> result;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) result.emplace_back(item.key(), item.value());
  return result;
}

// This process's place among the processes that train one model together.
struct Place {
  dist::ProcessGroup* group = nullptr;  // null when training alone
  int rank = 0;
  int size = 1;
  bool is_main() const { return rank == 0; }
  bool shared() const { return size > 1; }
};

Place place_of(const RunOptions& options) {
  if (!options.group) return {};
  return {options.group.get(), options.group->rank(), options.group->size()};
}

// Whether rank 0 found the run finished; every rank follows its answer (the output folder need not be shared).
bool main_says(const Place& place, bool answer, const std::string& what) {
  if (!place.shared()) return answer;
  std::vector<at::Tensor> flag{at::full({1}, answer ? 1 : 0, at::kLong)};
  place.group->broadcast(flag, 0, what);
  return flag.front().item<int64_t>() != 0;
}

// Rank 0's weights, BatchNorm statistics, momentum buffers and position, on every rank: only rank 0 reads a
// checkpoint, and the others start where it does.
TrainingPosition start_like_main(const Place& place, Classifier& model, MomentumSgd& optimizer,
                                 const TrainingPosition& position, const at::Device& device) {
  if (!place.shared()) return position;
  std::vector<at::Tensor> state;
  for (const auto& [name, parameter] : named_parameters(model)) state.push_back(parameter);
  for (const auto& buffer : model.buffers(/*recurse=*/true)) state.push_back(buffer);
  // Momentum buffers exist once a parameter has been updated: rank 0 says which, the others make room for them.
  const auto parameters = named_parameters(model);
  std::vector<at::Tensor> has_momentum{at::zeros({static_cast<int64_t>(parameters.size())}, at::kLong).to(device)};
  if (place.is_main()) {
    auto flags = at::zeros({static_cast<int64_t>(parameters.size())}, at::kLong);
    for (size_t i = 0; i < parameters.size(); ++i)
      flags[static_cast<int64_t>(i)] = static_cast<int64_t>(optimizer.momentum_buffers().count(parameters[i].first));
    has_momentum.front() = flags.to(device);
  }
  place.group->broadcast(has_momentum, 0, "the optimizer state at the start");
  const at::Tensor flags = has_momentum.front().cpu();
  if (!place.is_main()) {
    std::map<std::string, at::Tensor> zeros;
    for (size_t i = 0; i < parameters.size(); ++i)
      if (flags[static_cast<int64_t>(i)].item<int64_t>() != 0)
        zeros[parameters[i].first] = at::zeros_like(parameters[i].second);
    optimizer.load_momentum_buffers(zeros);
  }
  for (const auto& [name, buffer] : optimizer.momentum_buffers()) state.push_back(buffer);
  dist::broadcast_from_main(*place.group, state, "the weights at the start");
  std::vector<at::Tensor> where{
      at::tensor({static_cast<double>(position.epoch), static_cast<double>(position.batch),
                  static_cast<double>(position.step), position.loss_sum}, at::kDouble).to(device)};
  place.group->broadcast(where, 0, "the position at the start");
  const at::Tensor values = where.front().cpu();
  return {static_cast<int64_t>(values[0].item<double>()), static_cast<int64_t>(values[1].item<double>()),
          static_cast<int64_t>(values[2].item<double>()), values[3].item<double>()};
}

// BatchNorm's running statistics move on each rank with its own share; rank 0's are the model's, as
// DistributedDataParallel's broadcast_buffers does.
void copy_main_buffers(const Place& place, Classifier& model, const std::string& what) {
  if (!place.shared()) return;
  std::vector<at::Tensor> buffers;
  for (const auto& buffer : model.buffers(/*recurse=*/true)) buffers.push_back(buffer);
  dist::broadcast_from_main(*place.group, buffers, what);
}

// The mean loss of the whole batch and whether any rank was asked to stop, agreed by every rank, so that all of them
// stop after the same step.
std::pair<double, bool> agree_on_step(const Place& place, double loss, bool stop, const at::Device& device,
                                      int64_t step) {
  if (!place.shared()) return {loss, stop};
  std::vector<at::Tensor> values{at::tensor({loss / place.size, stop ? 1.0 : 0.0}, at::kDouble).to(device)};
  place.group->all_reduce_sum(values, "the loss of step " + std::to_string(step));
  const at::Tensor agreed = values.front().cpu();
  return {agreed[0].item<double>(), agreed[1].item<double>() > 0};
}

// This process's share of the test set: all of it alone, a contiguous part of it with others.
data::DatasetPtr test_share(const data::DatasetPtr& test_set, const Place& place, int64_t& first_sample) {
  const dist::Share share = dist::share_of(test_set->size(), place.rank, place.size);
  first_sample = share.begin;
  if (!place.shared()) return test_set;
  if (share.end == share.begin) return nullptr;
  std::vector<int64_t> indices(static_cast<size_t>(share.end - share.begin));
  std::iota(indices.begin(), indices.end(), share.begin);
  return std::make_shared<data::Subset>(test_set, std::move(indices),
                                        "evaluation share " + std::to_string(place.rank + 1) + " of " +
                                            std::to_string(place.size));
}

}  // namespace

double worst_group_accuracy(const std::vector<TestGroupAccuracy>& groups) {
  double worst = std::nan("");
  for (const auto& group : groups)
    if (!std::isnan(group.accuracy) && (std::isnan(worst) || group.accuracy < worst)) worst = group.accuracy;
  return worst;
}

const EpochMetrics* best_evaluated_epoch(const std::vector<EpochMetrics>& history) {
  const EpochMetrics* best = nullptr;
  for (const auto& epoch : history)
    if (epoch.evaluated && (best == nullptr || epoch.top1 > best->top1)) best = &epoch;
  return best;
}

at::Device run_device(const TrainConfig& config) {
  const bool wants_cuda = config.device.rfind("cuda", 0) == 0;
  if (config.device != "cpu" && !wants_cuda)
    throw config_error(config.source + ": [train] device must be \"cpu\" or \"cuda[:N]\", got \"" + config.device + "\"");
  if (wants_cuda && !compat::cuda_available())
    throw unsupported(config.source + ": [train] device = \"" + config.device +
                      "\" but this build of LibTorch has no CUDA device; use device = \"cpu\"");
  try {
    return at::Device(config.device);
  } catch (const c10::Error&) {
    throw config_error(config.source + ": [train] device \"" + config.device + "\" is not a valid device name");
  }
}

int64_t input_image_size(const TrainConfig& config, const data::Dataset& train_set) {
  if (config.data.image_size > 0) return config.data.image_size;
  const at::Tensor image = train_set.load_image(0);
  return std::min(image.size(0), image.size(1));
}

data::Transforms test_transforms(const DataSettings& d, int64_t size) {
  data::Transforms t;
  add_resize(t, d, size);
  t.center_crop(size, size);
  t.normalize(d.mean, d.stddev);
  return t;
}

std::shared_ptr<SampleSource> create_stream_source(const TrainConfig& config, const data::DatasetPtr& real,
                                                   PluginRegistry& registry) {
  const StreamSettings& settings = *config.synthetic.stream;
  SampleSourceContext context;
  context.num_classes = real->num_classes();
  context.seed = config.seed;
  context.device = config.device;
  context.cache_dir = config.output_dir + "/cache";
  context.dataset = real;
  auto source = registry.create_sample_source(settings.augmenter, settings.source, context);
  if (!source->can_stream())
    throw unsupported(settings.source.where("augmenter") + ": sample source '" + settings.augmenter +
                      "' cannot stream (it offers paper mode only): fill a cache with `diffmix synthesize` and " +
                      "train on it with [synthetic] cache = \"...\" and no source");
  return source;
}

TrainResult train_classifier(const TrainConfig& config, PluginRegistry& registry, const RunOptions& options) {
  const Place place = place_of(options);
  // A finished run is read back, not rebuilt: no dataset, model or sample source (which may fine-tune) is made.
  const std::string run_fingerprint = fingerprint(config, place.size);
  if (options.resume) {
    const auto done = place.is_main() ? finished_result(config, run_fingerprint) : std::nullopt;
    if (main_says(place, done.has_value(), "whether the run had finished")) {
      if (!done) return TrainResult{config.output_dir};
      spdlog::info("{}: finished earlier (test top-1 {}); result.json is kept", config.output_dir,
                   percent_label(done->top1));
      return *done;
    }
  }
  if (place.shared() && config.synthetic.stream)
    throw unsupported(config.source + ": [synthetic] source streams samples into training, which a single process "
                      "does; with several processes fill a cache with `diffmix synthesize` and train on it");
  if (config.threads > 0) at::set_num_threads(config.threads);
  const at::Device device = run_device(config);
  // Rank 0 alone writes the output folder. One process trains into a folder at a time; holding its lock also makes
  // it safe to remove the temporary copies a killed run left half-written there.
  std::optional<io::FileLock> lock;
  if (place.is_main()) {
    fs::create_directories(config.output_dir);
    lock = io::FileLock::try_acquire(config.output_dir + "/.lock");
    if (!lock)
      throw busy(config.output_dir + ": another process is training into this folder (it holds .lock); run one " +
                 "training per output folder");
    io::remove_abandoned_temporaries(config.output_dir);
  }
  const std::string checkpoint_path = config.output_dir + "/checkpoint.safetensors";
  const std::string metrics_path = config.output_dir + "/metrics.jsonl";

  // Data: the real training set (mixed with synthetic samples when a cache is given) and a fixed test set.
  const data::DatasetPtr train_set = data::open_dataset(config.data.train);
  const data::DatasetPtr test_set = data::open_dataset(config.data.test);
  if (train_set->num_classes() != test_set->num_classes())
    throw invalid_argument(train_set->name() + " has " + std::to_string(train_set->num_classes()) + " classes but " +
                           test_set->name() + " has " + std::to_string(test_set->num_classes()));
  if (config.data.test.kind != config.data.train.kind) check_same_classes(*train_set, *test_set);
  const std::optional<data::EvaluationGroups> test_groups = data::evaluation_groups(config.data.test);
  if (config.data.test.kind == "waterbirds" && !test_groups)
    spdlog::warn("{}: group accuracy is scored on a whole split; test_per_class = {} leaves it out",
                 config.source, config.data.test.shots);
  const int64_t num_classes = train_set->num_classes();
  const int64_t image_size = input_image_size(config, *train_set);
  const Synthetic synthetic = open_synthetic(config, train_set, registry);
  auto mixer = std::make_shared<data::Mixer>(train_set, synthetic.pool, mixer_options(config));

  AugmenterContext context;
  context.num_classes = num_classes;
  context.seed = config.seed;
  context.device = config.device;
  context.cache_dir = config.output_dir + "/cache";
  auto augmenters = std::make_shared<AugmentChain>(AugmentChain::from_config(registry, config.augment, context));

  data::LoaderOptions train_options;
  train_options.batch_size = config.optim.batch_size;
  train_options.workers = config.data.workers;
  train_options.seed = config.seed;
  train_options.shard = place.rank;
  train_options.shards = place.size;
  // A last batch of one image would break BatchNorm; dropping the remainder is harmless as the order is reshuffled.
  train_options.drop_last = train_set->size() >= config.optim.batch_size;
  data::Loader train_loader(mixer, train_transforms(config.data, image_size), train_options, augmenters);
  const StreamStopper stream_stopper{synthetic.stream};

  data::LoaderOptions test_options;
  test_options.batch_size = kEvalBatchSize;
  test_options.workers = config.data.workers;
  test_options.shuffle = false;
  int64_t first_test_sample = 0;
  std::unique_ptr<data::Loader> test_loader;  // null for a process whose share of the test set is empty
  if (const auto share = test_share(test_set, place, first_test_sample))
    test_loader = std::make_unique<data::Loader>(std::make_shared<data::Mixer>(share, nullptr),
                                                 test_transforms(config.data, image_size), test_options);
  auto evaluate_now = [&](Classifier& model) {
    copy_main_buffers(place, model, "BatchNorm statistics before evaluation");
    return evaluate(model, test_loader.get(), num_classes, first_test_sample, device, test_groups, place.group);
  };

  // Model and optimizer. The initial weights are a function of the seed.
  const int64_t in_channels = train_loader.make_batch(0, 0).images.size(1);
  at::manual_seed(config.seed);
  auto model = make_classifier({config.architecture, num_classes, in_channels, image_size});
  if (!config.weights.empty()) load_pretrained(*model, config.weights);
  model->to(device);
  model->train();
  MomentumSgd optimizer(named_parameters(*model), {config.optim.momentum, config.optim.weight_decay});

  const int64_t batches_per_epoch = train_loader.batches_per_epoch();
  const int64_t total_steps = config.optim.epochs * batches_per_epoch;
  const auto warmup = static_cast<int64_t>(std::llround(config.optim.warmup_epochs * batches_per_epoch));
  const CosineWarmupSchedule schedule(config.optim.lr, total_steps, std::min(warmup, total_steps), config.optim.final_lr);

  TrainingPosition position;
  if (options.resume && place.is_main()) {
    if (auto saved = load_checkpoint(checkpoint_path, *model, optimizer, run_fingerprint)) {
      position = *saved;
      spdlog::info("resuming {} at epoch {} batch {} (step {})", config.output_dir, position.epoch + 1,
                   position.batch, position.step);
    }
  }
  position = start_like_main(place, *model, optimizer, position, device);
  std::vector<at::Tensor> parameters;
  for (const auto& [name, parameter] : named_parameters(*model)) parameters.push_back(parameter);
  // With other processes, the gradients are averaged bucket by bucket while backward runs.
  std::optional<dist::GradientReducer> reducer;
  if (place.shared()) reducer.emplace(options.group, parameters);

  TrainResult result;
  result.output_dir = config.output_dir;
  result.class_names = train_set->class_names();
  result.train_size = train_set->size();
  result.test_size = test_set->size();
  if (place.is_main()) result.history = restore_metrics(metrics_path, position.epoch, result.class_names);
  spdlog::info("training {} on {} ({} images, {} classes), testing on {} images; {} epochs × {} batches, augment: {}",
               config.architecture, train_set->name(), train_set->size(), num_classes, test_set->size(),
               config.optim.epochs, batches_per_epoch,
               augmenter_list(*augmenters));
  if (place.shared())
    spdlog::info("data parallel: {} processes, {} images of every batch of {} each", place.size,
                 config.optim.batch_size / place.size, config.optim.batch_size);

  int64_t step = position.step;
  for (int64_t epoch = position.epoch; epoch < config.optim.epochs; ++epoch) {
    const bool resumed_epoch = epoch == position.epoch;
    const int64_t first_batch = resumed_epoch ? position.batch : 0;
    double loss_sum = resumed_epoch ? position.loss_sum : 0.0;
    train_loader.start_epoch(static_cast<uint64_t>(epoch), first_batch);
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config.optim.epochs),
                      static_cast<uint64_t>(batches_per_epoch), "batch");
    progress.set(static_cast<uint64_t>(first_batch));
    const auto epoch_start = Clock::now();
    int64_t images_seen = 0;
    int64_t batch_index = first_batch;
    double lr = schedule.lr(step);

    // A stop request saves where the run is, so that the same command continues from there.
    auto interrupt = [&] {
      if (place.is_main())
        save_checkpoint(checkpoint_path, *model, optimizer, {epoch, batch_index, step, loss_sum}, run_fingerprint);
      throw cancelled("training interrupted at epoch " + std::to_string(epoch + 1) + " batch " +
                      std::to_string(batch_index) + "; the checkpoint is in " + checkpoint_path +
                      ": run the same command again to resume");
    };
    for (;;) {
      std::optional<Batch> batch;
      try {
        batch = train_loader.next();
      } catch (const Error& error) {
        if (error.category() != ErrorCategory::Cancelled) throw;
        interrupt();  // a synchronous stream was waited for when the stop came
      }
      if (!batch) break;
      lr = schedule.lr(step);
      copy_main_buffers(place, *model, "BatchNorm statistics of step " + std::to_string(step + 1));
      const at::Tensor images = batch->images.to(device);
      const at::Tensor labels = smooth_labels(batch->labels.to(device), config.optim.label_smoothing);
      at::Tensor loss = soft_cross_entropy(model->forward(images), labels);
      // Each rank's loss is the mean over its share; weighted by the share's size, the ranks' average gradient is
      // the gradient of the whole batch's mean even when the shares differ by one image.
      if (place.shared())
        loss = loss * (static_cast<double>(images.size(0) * place.size) / train_loader.batch_length(batch_index));
      optimizer.zero_grad();
      if (reducer) reducer->reduce_next_backward("the gradients of step " + std::to_string(step + 1));
      loss.backward();
      if (reducer) reducer->finish();
      optimizer.step(lr);
      ++step;
      ++batch_index;
      images_seen += train_loader.batch_length(batch_index - 1);
      const auto [loss_value, stop] = agree_on_step(place, loss.item<double>(), cancel_requested(), device, step);
      loss_sum += loss_value;
      char note[64];
      std::snprintf(note, sizeof(note), "loss %.4f lr %.4g", loss_value, lr);
      progress.advance(1, note);
      if (options.on_step) options.on_step({epoch, batch_index - 1, step, total_steps, loss_value, lr});
      if (synthetic.stream) synthetic.stream->rethrow_if_failed();  // the sample source's error ends training
      if (stop) interrupt();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    progress.finish();
    if (synthetic.stream)
      spdlog::info("epoch {}/{}: {} streamed samples in {}", epoch + 1, config.optim.epochs, synthetic.stream->size(),
                   config.synthetic.cache);

    EpochMetrics metrics;
    metrics.epoch = epoch + 1;
    metrics.step = step;
    metrics.lr = lr;
    metrics.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(batches_per_epoch, 1));
    metrics.seconds = seconds;
    metrics.images_per_second = seconds > 0 ? images_seen / seconds : 0.0;
    if ((epoch + 1) % config.optim.eval_every == 0 || epoch + 1 == config.optim.epochs) {
      const Evaluation evaluation = evaluate_now(*model);
      result.test_groups = evaluation.groups;
      metrics.evaluated = true;
      metrics.top1 = evaluation.top1;
      metrics.mean_per_class = evaluation.mean_per_class;
      metrics.per_class = evaluation.per_class;
    }
    if (metrics.evaluated)
      spdlog::info("epoch {}/{}: test top-1 {} (mean per class {})", epoch + 1, config.optim.epochs,
                   percent_label(metrics.top1), percent_label(metrics.mean_per_class));
    // Metrics first, then the checkpoint: a kill in between repeats the epoch, and its line is rewritten on resume.
    if (place.is_main()) append_metrics(metrics_path, metrics, result.class_names);
    result.history.push_back(metrics);
    if (place.is_main())
      save_checkpoint(checkpoint_path, *model, optimizer, {epoch + 1, 0, step, 0.0}, run_fingerprint);
  }

  // A run resumed after its last evaluation has that epoch's numbers but not its groups: it evaluates once more.
  const bool groups_missing = test_groups && result.test_groups.empty();
  const bool evaluate_again = result.history.empty() || !result.history.back().evaluated || groups_missing;
  // Rank 0 alone knows the history of a resumed run; the others evaluate with it or not at all.
  if (main_says(place, evaluate_again, "whether to evaluate once more")) {
    const Evaluation evaluation = evaluate_now(*model);
    result.top1 = evaluation.top1;
    result.mean_per_class = evaluation.mean_per_class;
    result.per_class = evaluation.per_class;
    result.test_groups = evaluation.groups;
  } else if (!result.history.empty()) {
    result.top1 = result.history.back().top1;
    result.mean_per_class = result.history.back().mean_per_class;
    result.per_class = result.history.back().per_class;
  }
  if (config.data.train.imbalance > 1.0) {
    const auto thresholds = data::paper_shot_thresholds(config.data.train.kind);
    result.shot_groups = data::shot_group_accuracy(train_set->class_counts(), result.per_class, thresholds);
    spdlog::info("long tail: {}", describe_shot_groups(result.shot_groups, thresholds));
  }
  if (!result.test_groups.empty()) spdlog::info("test groups: {}", describe_test_groups(result.test_groups));
  if (const EpochMetrics* best = best_evaluated_epoch(result.history); best && config.optim.eval_every > 1)
    spdlog::info("test top-1 {} after the last epoch; best of the evaluated epochs (every {}): {} after epoch {}",
                 percent_label(result.top1), config.optim.eval_every, percent_label(best->top1), best->epoch);
  if (place.is_main()) {
    save_weights(*model, config.output_dir + "/model.safetensors");
    write_result(config.output_dir + "/result.json", result, run_fingerprint);
  }
  return result;
}

std::optional<TrainResult> read_finished_run(const TrainConfig& config) {
  return finished_result(config, fingerprint(config, 1));
}

}  // namespace dmx::classifier
