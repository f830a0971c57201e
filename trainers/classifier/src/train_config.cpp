#include "diffmix/log.hpp"
#include "diffmix/classifier/train_config.hpp"

#include "diffmix/classifier/classifier.hpp"
#include "diffmix/error.hpp"

namespace dmx::classifier {
namespace {

constexpr config::Range kPositive{1, 1e12};
constexpr config::Range kNonNegative{0, 1e12};
constexpr config::Range kProbability{0, 1};

std::vector<float> to_floats(const std::vector<double>& values) { return {values.begin(), values.end()}; }

void read_data(const config::Table& table, DataSettings& data) {
  data.train.kind = table.string("kind", data.train.kind, data::dataset_kinds());
  data.train.root = table.string("root", "");
  data.train.metaclass = table.string("metaclass", "");
  data.train.skip_bad_entries = table.boolean("skip_bad_entries", false);
  data.train.shots = table.integer("shots", 0, kNonNegative);
  data.train.imbalance = table.number("imbalance", 1.0, {1.0, 1e6});
  data.train.seed = static_cast<uint64_t>(table.integer("seed", 0, kNonNegative));
  data.train.split = table.string("train_split", "train");
  data.test = data.train;
  data.test.split = table.string("test_split", "test");
  data.test.shots = table.integer("test_per_class", 0, kNonNegative);
  data.test.imbalance = 1.0;
  data.image_size = table.integer("image_size", 0, kNonNegative);
  data.crop_padding = table.integer("crop_padding", data.crop_padding, kNonNegative);
  data.flip = table.number("flip", data.flip, kProbability);
  data.mean = to_floats(table.number_list("mean", {data.mean.begin(), data.mean.end()}));
  data.stddev = to_floats(table.number_list("std", {data.stddev.begin(), data.stddev.end()}, {1e-6, 1e6}));
  data.workers = static_cast<int>(table.integer("workers", data.workers, {0, 64}));
}

void read_synthetic(const config::Table& table, SyntheticSettings& synthetic) {
  synthetic.cache = table.required_string("cache");
  synthetic.probability = table.number("probability", -1.0, {-1.0, 1.0});
  synthetic.mode = table.string("mode", "uniform", {"uniform", "balanced"}) == "balanced" ? data::MixMode::Balanced
                                                                                          : data::MixMode::Uniform;
  synthetic.gamma = table.number("gamma", synthetic.gamma, {0.0, 10.0});
  synthetic.filtered = table.boolean("filtered", false);
}

void read_optim(const config::Table& table, TrainConfig& config) {
  auto& optim = config.optim;
  optim.epochs = table.integer("epochs", optim.epochs, kPositive);
  optim.batch_size = table.integer("batch_size", optim.batch_size, kPositive);
  optim.lr = table.number("lr", optim.lr, {1e-12, 1e3});
  optim.momentum = table.number("momentum", optim.momentum, {0.0, 0.999999});
  optim.weight_decay = table.number("weight_decay", optim.weight_decay, {0.0, 1.0});
  optim.warmup_epochs = table.number("warmup_epochs", optim.warmup_epochs, {0.0, 1e6});
  optim.final_lr = table.number("final_lr", optim.final_lr, {0.0, optim.lr});
  optim.label_smoothing = table.number("label_smoothing", optim.label_smoothing, {1e-6, 1.0});
  optim.eval_every = table.integer("eval_every", optim.eval_every, kPositive);
  config.device = table.string("device", config.device);
  config.threads = static_cast<int>(table.integer("threads", 0, {0, 1024}));
}

}  // namespace

std::vector<config::Table> augmenter_tables(const config::Table& parent, const std::string& key) {
  parent.skip(key);
  const toml::node* node = parent.raw().get(key);
  if (!node) return {};
  const toml::array* array = node->as_array();
  if (!array) throw config_error(parent.where(key) + ": '" + key + "' must be an array of tables ([[" + key + "]])");
  const std::string prefix = (parent.path().empty() ? "" : parent.path() + ".") + key;
  std::vector<config::Table> tables;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::table* table = (*array)[i].as_table();
    if (!table)
      throw config_error(parent.where(key) + ": element " + std::to_string(i) + " of '" + key + "' must be a table");
    tables.emplace_back(*table, parent.source(), prefix + "[" + std::to_string(i) + "]");
  }
  return tables;
}

TrainConfig read_train_config(const config::Table& root) {
  TrainConfig config;
  config.source = root.source();
  config.seed = static_cast<uint64_t>(root.integer("seed", 0, kNonNegative));
  config.output_dir = root.string("output", config.output_dir);
  log::apply_config_level(root.string("log_level", "", log::level_names()));
  if (auto data = root.table("data")) read_data(*data, config.data);
  if (auto synthetic = root.table("synthetic")) read_synthetic(*synthetic, config.synthetic);
  if (auto backbone = root.table("backbone")) {
    config.architecture = backbone->string("architecture", config.architecture, classifier_architectures());
    config.weights = backbone->string("weights", "");
  }
  if (auto train = root.table("train")) read_optim(*train, config);
  config.augment = augmenter_tables(root, "augment");
  if (auto plugins = root.table("plugins")) config.plugin_paths = plugins->string_list("path", {});
  return config;
}

}  // namespace dmx::classifier
