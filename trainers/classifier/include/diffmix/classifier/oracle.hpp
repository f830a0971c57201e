// The oracle check of a synthetic cache: a classifier trained on the whole real training set judges whether the
// generated images look like their classes.
//
//   diffmix train configs/fmnist_oracle.toml                                 # once: the oracle
//   diffmix oracle configs/fmnist_oracle.toml --cache cache/diff_gen --cache cache/diff_mix
//
//   auto report = dmx::classifier::judge_synthetic_cache(oracle_config, "cache/diff_mix");
//   report.target_top1;                    // share classified as their target (prompt) class
//   report.by_strength[i].target_probability   // mean P(target) at strength i: rises with s for a working Diff-Mix
//
// The oracle is the model `diffmix train` left in the config's output folder (model.safetensors); every sample goes
// through the config's test transforms, as the oracle's own test images did.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/classifier/train_config.hpp"

namespace dmx::classifier {

// The samples of one strength (1 for text-to-image samples).
struct OracleStrength {
  double strength = 0;
  int64_t samples = 0;
  double target_probability = 0;  // mean softmax probability of the target (prompt) class
  double source_probability = 0;  // mean probability of the source (reference image) class
  double target_top1 = 0;         // share whose top class is the target
};

// The samples made for one target class: which of them the oracle recognises, and what it takes the others for.
struct OracleClass {
  std::string name;
  int64_t samples = 0;
  double target_top1 = 0;        // share whose top class is this target
  std::string mistaken_for;      // the most frequent other top class ("" when every sample is recognised)
  double mistaken_share = 0;     // share of this class's samples given that class
};

struct OracleReport {
  std::string cache;
  int64_t samples = 0;
  double target_top1 = 0;
  double target_probability = 0;
  std::vector<OracleStrength> by_strength;  // ascending strength
  std::vector<OracleClass> by_class;        // in class order, classes with samples only
};

// Classifies every sample of the cache at `cache_folder` (manifest.jsonl or the authors' meta.csv) with the oracle
// that `config` trained. A missing model.safetensors is a NotFound error that says to run `diffmix train` first.
OracleReport judge_synthetic_cache(const TrainConfig& config, const std::string& cache_folder);

// The report as JSON (strengths ascending), written atomically.
void write_oracle_report(const std::string& path, const std::vector<OracleReport>& reports);

}  // namespace dmx::classifier
