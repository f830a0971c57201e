// Training checkpoints: the model's weights and buffers, the optimizer's momentum buffers and the position in the
// run, in one safetensors file written atomically (temp + rename), so a run killed at any moment resumes from the
// last complete checkpoint.
//
// Everything else a run needs is a pure function of the config and the position: the loader's batches depend on
// (seed, epoch, batch), the augmenters' on (seed, step), the learning rate on the step. So a resumed run computes
// bit-for-bit what the uninterrupted one would have.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/sgd.hpp"

namespace dmx::classifier {

struct TrainingPosition {
  int64_t epoch = 0;    // the epoch in progress (0-based); == epochs when the run is finished
  int64_t batch = 0;    // the next batch of that epoch
  int64_t step = 0;     // optimizer steps taken so far
  double loss_sum = 0;  // sum of this epoch's batch losses so far (for the epoch's mean loss)
};

// `fingerprint` describes the settings a checkpoint is only valid for (architecture, data, batch size, seed, ...).
void save_checkpoint(const std::string& path, const Classifier& model, const MomentumSgd& optimizer,
                     const TrainingPosition& position, const std::string& fingerprint);

// Loads into `model` and `optimizer` and returns the position; nullopt when `path` does not exist. A checkpoint made
// with another fingerprint is an invalid-argument error that shows both, so a changed config is not silently
// continued.
std::optional<TrainingPosition> load_checkpoint(const std::string& path, Classifier& model, MomentumSgd& optimizer,
                                                const std::string& fingerprint);

}  // namespace dmx::classifier
