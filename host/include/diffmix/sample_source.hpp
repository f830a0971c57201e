// Sample sources created by plugins (the diffusion augmenters), as the host sees them.
//
// A sample source makes synthetic training samples from the training set. It is used in one of two ways:
//  - paper mode: prepare(), then synthesize(cache_folder, count) fills a synthetic cache (images + manifest.jsonl,
//    see diffmix/data/synthetic_cache.hpp) that training later reads; rerunning it resumes;
//  - streaming mode: prepare(), then next() until it returns std::nullopt.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

#include "diffmix/augmenter.hpp"
#include "diffmix/data/dataset.hpp"
#include "diffmix/error.hpp"

namespace dmx {

// Everything a sample source learns about the run that creates it: the run's context and the training set it
// draws reference images and class names from.
struct SampleSourceContext : AugmenterContext {
  data::DatasetPtr dataset;  // required
};

// One synthetic sample and where it came from.
struct Sample {
  at::Tensor image;       // uint8 H×W×C (RGB)
  at::Tensor soft_label;  // float K
  int32_t source_class = -1;  // class of the reference image, -1 when there is none (txt2img)
  int32_t target_class = 0;   // class of the prompt
  float strength = 1.0f;      // SDEdit strength, 1 for txt2img
  uint64_t seed = 0;
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // Loads or fine-tunes the model behind the source; idempotent and resumable.
  virtual void prepare() = 0;
  // Makes `count` samples in the cache folder `out_dir`; samples already in its manifest are not made again.
  // A stop request (dmx::request_cancel, Ctrl-C) ends it with dmx::cancelled and loses nothing already written.
  virtual void synthesize(const std::string& out_dir, int64_t count) = 0;
  // Whether synthesize_part works: a source without it synthesizes in one process only.
  virtual bool can_synthesize_part() const { return false; }
  // Makes samples [begin, end) of a synthesize run of `count` samples, numbered as there, into the cache folder
  // `out_dir` (one shard of a run spread over workers, see diffmix/data/cache_shards.hpp); resumable like
  // synthesize. An Unsupported error when !can_synthesize_part().
  virtual void synthesize_part(const std::string& out_dir, int64_t count, int64_t begin, int64_t end) {
    (void)out_dir, (void)count, (void)begin, (void)end;
    throw unsupported("sample source '" + name() + "' cannot make a part of a synthesis run (it offers no " +
                      "`synthesize_part`): synthesize with one process");
  }
  // The next streamed sample, or std::nullopt when the source has nothing more to give.
  virtual std::optional<Sample> next() = 0;
  // Whether next() works at all (a source may offer paper mode only).
  virtual bool can_stream() const { return true; }
  // Whether seek() works: a source without it cannot resume a stream.
  virtual bool can_seek() const { return false; }
  // The next call to next() makes sample `index` of the run (sample k is a function of (seed, k), as in
  // synthesize): a host that kept the first `index` streamed samples resumes without making any twice.
  // An Unsupported error when !can_seek().
  virtual void seek(int64_t index) = 0;
  virtual const std::string& name() const = 0;
};

}  // namespace dmx
