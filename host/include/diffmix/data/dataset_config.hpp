// The `[data]` table of the commands that work on one split of a dataset (`diffmix finetune`, `diffmix synthesize`):
//
//   [data]
//   kind = "cub"                  # one of dataset_kinds()
//   root = "data/CUB_200_2011"    # empty: the kind's default location
//   split = "train"
//   metaclass = "bird"            # empty: the dataset's own
//   shots = 0                     # > 0: a seeded k-shot subset
//   imbalance = 1.0               # > 1: a seeded long-tail subset with that head/tail ratio
//   seed = 0
//   skip_bad_entries = false      # log and leave out malformed entries instead of failing
#pragma once

#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"

namespace dmx::data {

// Reads the keys above; the caller calls table.finish() (or the root's) afterwards.
DatasetSpec read_dataset_spec(const config::Table& table);

}  // namespace dmx::data
