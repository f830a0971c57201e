// One diffusion sample source (real_gen ... diff_mix): the strategy's model, the synthesis plan over the host's
// training set, and the two ways of handing out samples.
//
//   paper mode   synthesize(folder, count) writes samples 0 .. count−1 of the plan into a synthetic cache; a rerun
//                continues after the last sample in the manifest;
//   streaming    next() returns samples 0, 1, 2, ... one at a time; seek(n) continues at sample n.
//
// Sample k is a function of (seed, k) alone (the plan's job k, denoised with noise drawn from the job's seed), so both
// modes make the same sample k. Jobs are denoised in blocks of `batch_size` aligned on multiples of it: a resumed
// run regenerates the block it stopped in whole, so the batches are exactly those of an uninterrupted run, and so
// do the shards of a run spread over workers (synthesize_part).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/diffusion/source_settings.hpp"
#include "diffmix/diffusion/synthesis_pipeline.hpp"
#include "diffmix/diffusion/synthesis_plan.hpp"
#include "diffmix/plugin.hpp"
#include "view_dataset.hpp"

namespace dmx::diffusion_plugin {

class DiffusionSource {
 public:
  // `augmenter`: one of diffusion_augmenter_names(). Reads and checks the configuration and the dataset view; loads
  // nothing yet.
  DiffusionSource(const plugin::Context& context, const std::string& augmenter);

  // Fine-tunes into `finetuned` when the strategy needs artifacts that are missing and a [finetune] table is given
  // (resumable), then loads the model. Idempotent.
  void prepare();
  void synthesize(const std::string& out_dir, int64_t count);
  // Samples [begin, end) of a synthesize run of `count` into `out_dir`, numbered as there: one shard of a run spread
  // over workers. The blocks are the run's own (a shard that starts or ends inside one denoises it whole and keeps
  // its share of it), so every image is the one a single process makes.
  void synthesize_part(const std::string& out_dir, int64_t count, int64_t begin, int64_t end);
  std::optional<plugin::Sample> next();
  void seek(int64_t index);

 private:
  void require_prepared() const;
  void check_strengths_take_a_step() const;
  void finetune_unless_done();
  void run_finetune(const finetune::FinetuneConfig& config);
  uint64_t seed() const;
  // A plan with at least `count` jobs (job k does not depend on the plan's length, so growing it changes none).
  void ensure_plan(int64_t count);
  // The plan's jobs [begin, end) and their images.
  std::vector<diffusion::SynthesisJob> jobs(int64_t begin, int64_t end) const;
  std::vector<at::Tensor> generate(const std::vector<diffusion::SynthesisJob>& jobs) const;
  data::SyntheticRecord record_of(const diffusion::SynthesisJob& job) const;
  plugin::Sample sample_of(const diffusion::SynthesisJob& job, at::Tensor image) const;
  int64_t stream_count() const;

  plugin::Context context_;
  std::string augmenter_;
  diffusion::SourceSettings settings_;
  std::shared_ptr<ViewDataset> dataset_;
  std::optional<diffusion::SynthesisPlan> plan_;
  std::optional<diffusion::SynthesisPipeline> pipeline_;
  bool store_soft_labels_ = false;  // an explicit gamma freezes the labels it gives into the cache
  // Streaming: the next sample to hand out, and the images of its block already made.
  int64_t next_index_ = 0;
  std::map<int64_t, plugin::Sample> block_;
};

}  // namespace dmx::diffusion_plugin
