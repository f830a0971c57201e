// The pictures and the HTML page of a comparison: what people would rather see than read.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "diffmix/classifier/compare.hpp"

namespace dmx::classifier {

// A set-up's Δ to the first, in points, with its 95 % interval: "+0.52 [-0.10, +1.14]", and " *" when the interval
// excludes zero; "—" for the baseline itself.
std::string difference_text(const SetupSummary& summary, bool baseline);

// Bars of mean top-1 per set-up with ±std whiskers and the value above each bar. uint8 H×W×3.
at::Tensor render_accuracy_bars(const std::vector<SetupSummary>& summaries);

// Mean test top-1 per epoch, one coloured line per set-up, with a legend. uint8 H×W×3.
at::Tensor render_accuracy_curves(const std::vector<SetupSummary>& summaries);

// A self-contained page: the summary table, both charts (accuracy.png, curves.png beside it), every run, the
// per-class accuracy of each set-up averaged over seeds, and the synthetic samples (the PNGs of `sample_grids`).
std::string compare_report_html(const std::vector<SetupSummary>& summaries,
                                const std::vector<std::vector<TrainResult>>& runs,
                                const std::vector<SampleGrid>& sample_grids = {});

}  // namespace dmx::classifier
