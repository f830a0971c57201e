#include "diffmix/log.hpp"
#include "diffmix/classifier/train_config.hpp"

#include <sstream>

#include "diffmix/classifier/classifier.hpp"
#include "diffmix/error.hpp"

namespace dmx::classifier {
namespace {

constexpr config::Range kPositive{1, 1e12};
constexpr config::Range kNonNegative{0, 1e12};
constexpr config::Range kProbability{0, 1};

std::vector<float> to_floats(const std::vector<double>& values) { return {values.begin(), values.end()}; }

}  // namespace

void read_data_settings(const config::Table& table, DataSettings& data) {
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
  data.test.kind = table.string("test_kind", data.train.kind, data::dataset_kinds());
  data.test.root = table.string("test_root", data.train.root);
  data.test.shots = table.integer("test_per_class", 0, kNonNegative);
  data.test.imbalance = 1.0;
  data.resize = table.integer("resize", 0, kNonNegative);
  data.image_size = table.integer("image_size", 0, kNonNegative);
  if (data.resize > 0 && data.image_size == 0)
    throw config_error(table.where("resize") + ": resize = " + std::to_string(data.resize) + " needs image_size, " +
                       "the crop taken from the resized image (e.g. resize = 512 with image_size = 448)");
  if (data.resize > 0 && data.resize < data.image_size)
    throw config_error(table.where("image_size") + ": image_size = " + std::to_string(data.image_size) +
                       " is larger than resize = " + std::to_string(data.resize) + "; the crop must fit the image");
  data.crop_padding = table.integer("crop_padding", data.crop_padding, kNonNegative);
  data.flip = table.number("flip", data.flip, kProbability);
  data.mean = to_floats(table.number_list("mean", {data.mean.begin(), data.mean.end()}));
  data.stddev = to_floats(table.number_list("std", {data.stddev.begin(), data.stddev.end()}, {1e-6, 1e6}));
  data.workers = static_cast<int>(table.integer("workers", data.workers, {0, 64}));
}

namespace {

// [train] label_smoothing has PyTorch's meaning (0.1: 10 % of each label spread over the classes). It used to be
// the confidence (0.9 for the same labels); such a value is refused rather than read as near-uniform labels.
double read_label_smoothing(const config::Table& table, double fallback) {
  const double smoothing = table.number("label_smoothing", fallback, {0.0, 1.0});
  if (smoothing > 0.5) {
    std::ostringstream value;
    value << smoothing;
    throw config_error(table.where("label_smoothing") + ": label_smoothing = " + value.str() +
                       " would spread more than half of each label over the classes. label_smoothing has PyTorch's "
                       "meaning (0.1 = the paper's confidence 0.9); a config written for the old meaning (the "
                       "confidence) wants 1 - that value, e.g. 0.1 for 0.9");
  }
  return smoothing;
}

// The keys that only make sense with a streamed source.
const std::vector<std::string> kStreamKeys = {"synchronous", "queue", "count", "multiplier", "per_epoch"};

// `source` of [synthetic] is the plugin's table: the registry checks its keys against the plugin's schema, so the
// host's own key check (finish) leaves it alone.
config::Table source_table(const config::Table& synthetic) {
  synthetic.skip("source");
  const toml::table* table = synthetic.raw().get("source")->as_table();
  if (!table)
    throw config_error(synthetic.where("source") + ": 'source' must be a table (source = { augmenter = \"<name>\", "
                       "... } or [" + synthetic.path() + ".source])");
  return config::Table(*table, synthetic.source(), synthetic.path() + ".source");
}

StreamSettings read_stream(const config::Table& table) {
  StreamSettings stream{source_table(table)};
  stream.augmenter = stream.source.required_string("augmenter");
  stream.synchronous = table.boolean("synchronous", stream.synchronous);
  stream.queue = table.integer("queue", stream.queue, {1, 1e6});
  if (table.has("count") && table.has("multiplier"))
    throw config_error(table.where("multiplier") + ": give either `count` or `multiplier` in [" + table.path() +
                       "], not both");
  if (table.has("count")) stream.count = table.required_integer("count", {1, 1e12});
  stream.multiplier = table.number("multiplier", stream.multiplier, {1e-6, 1e6});
  stream.per_epoch = table.integer("per_epoch", 0, kPositive);
  return stream;
}

}  // namespace

void read_synthetic_settings(const config::Table& table, SyntheticSettings& synthetic) {
  if (table.has("source")) {
    synthetic.stream = read_stream(table);
    if (!table.has("cache"))
      throw config_error(table.where("source") + ": a streamed [" + table.path() + "] source needs `cache`, the " +
                         "folder where its samples persist (a rerun reuses them)");
  } else {
    for (const auto& key : kStreamKeys)
      if (table.has(key))
        throw config_error(table.where(key) + ": '" + key + "' applies to a streamed source only (add source = " +
                           "{ augmenter = \"<name>\" } to [" + table.path() + "])");
  }
  synthetic.cache = table.required_string("cache");
  synthetic.probability = table.number("probability", -1.0, {-1.0, 1.0});
  const std::string mode = table.string("mode", "uniform", {"uniform", "balanced", "inverse"});
  synthetic.mode = mode == "balanced" ? data::MixMode::Balanced
                   : mode == "inverse" ? data::MixMode::Inverse
                                       : data::MixMode::Uniform;
  synthetic.gamma = table.number("gamma", synthetic.gamma, {0.0, 10.0});
  synthetic.soft_scaler = table.number("soft_scaler", synthetic.soft_scaler, {1e-6, 1.0});
  synthetic.filtered = table.boolean("filtered", false);
  if (synthetic.stream && synthetic.filtered)
    throw config_error(table.where("filtered") + ": `filtered` reads the CLIP filter's manifest of a finished " +
                       "cache; a streamed source has none");
}

namespace {

void read_optim(const config::Table& table, TrainConfig& config) {
  auto& optim = config.optim;
  optim.epochs = table.integer("epochs", optim.epochs, kPositive);
  optim.batch_size = table.integer("batch_size", optim.batch_size, kPositive);
  optim.lr = table.number("lr", optim.lr, {1e-12, 1e3});
  optim.momentum = table.number("momentum", optim.momentum, {0.0, 0.999999});
  optim.weight_decay = table.number("weight_decay", optim.weight_decay, {0.0, 1.0});
  optim.warmup_epochs = table.number("warmup_epochs", optim.warmup_epochs, {0.0, 1e6});
  optim.final_lr = table.number("final_lr", optim.final_lr, {0.0, optim.lr});
  optim.label_smoothing = read_label_smoothing(table, optim.label_smoothing);
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
  if (auto data = root.table("data")) read_data_settings(*data, config.data);
  if (auto synthetic = root.table("synthetic")) read_synthetic_settings(*synthetic, config.synthetic);
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
