// What CutMix and Mixup share: a per-batch random stream, Beta sampling and the partner of each sample.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <random>

#include "diffmix/error.hpp"
#include "diffmix/plugin.hpp"

namespace dmx::plugins {

// The parameters users know from timm and torchvision: Beta(alpha, alpha), applied to a batch with probability
// `prob`; `num_classes` (optional) checks the label width.
struct MixingParameters {
  double alpha = 1.0;
  double prob = 1.0;
  int64_t num_classes = 0;

  static constexpr const char* kSchema = R"([
    {"key": "alpha", "type": "float", "min": 0.0, "doc": "lambda ~ Beta(alpha, alpha); must be > 0"},
    {"key": "prob", "type": "float", "min": 0.0, "max": 1.0, "doc": "probability of mixing a batch"},
    {"key": "num_classes", "type": "integer", "min": 0, "doc": "label width K; 0 takes it from the labels"}
  ])";

  static MixingParameters from(const dmx::plugin::Context& context, double default_prob) {
    MixingParameters p;
    const auto& config = context.config();
    p.alpha = config.number("alpha", 1.0);
    p.prob = config.number("prob", default_prob);
    p.num_classes = config.integer("num_classes", context.num_classes());
    if (!(p.alpha > 0)) throw config_error(context.name() + ": alpha must be > 0, got " + std::to_string(p.alpha));
    return p;
  }
};

// The random stream of one batch: a pure function of (seed, step), so a resumed run mixes the same way.
class BatchRandom {
 public:
  BatchRandom(uint64_t seed, uint64_t step) {
    std::seed_seq sequence{seed & 0xffffffffu, seed >> 32, step & 0xffffffffu, step >> 32};
    engine_.seed(sequence);
  }

  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }
  bool bernoulli(double p) { return uniform() < p; }
  double beta(double alpha) {
    std::gamma_distribution<double> gamma(alpha, 1.0);
    const double x = gamma(engine_), y = gamma(engine_);
    return x + y > 0 ? x / (x + y) : 0.5;
  }

 private:
  std::mt19937_64 engine_;
};

// Each sample is mixed with its neighbour in the batch (torchvision's roll by one), which needs no extra memory
// beyond one shifted copy and never pairs a sample with itself when N > 1.
inline at::Tensor partner(const at::Tensor& t) { return t.roll(1, 0); }

inline void check_batch(const dmx::Batch& batch, const MixingParameters& p, const std::string& who) {
  if (batch.images.dim() != 4) throw shape_error(who + ": images must be N×C×H×W, got " + std::to_string(batch.images.dim()) + " dimensions");
  if (batch.labels.dim() != 2 || batch.labels.size(0) != batch.images.size(0))
    throw shape_error(who + ": labels must be N×K soft labels with N = " + std::to_string(batch.images.size(0)));
  if (p.num_classes > 0 && batch.labels.size(1) != p.num_classes)
    throw shape_error(who + ": labels have " + std::to_string(batch.labels.size(1)) + " classes, num_classes = " +
                      std::to_string(p.num_classes));
  if (!at::isFloatingType(batch.images.scalar_type()) || !at::isFloatingType(batch.labels.scalar_type()))
    throw shape_error(who + ": images and labels must be floating point");
}

}  // namespace dmx::plugins
