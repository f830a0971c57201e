// The img2img start index.
#include "diffmix/sd/sdedit.hpp"

#include "diffmix/error.hpp"

#include <algorithm>
#include <string>

namespace dmx::sd {

int64_t sdedit_begin_index(int64_t num_inference_steps, double strength) {
  if (num_inference_steps < 1)
    throw invalid_argument("img2img: the number of steps must be at least 1, got " +
                           std::to_string(num_inference_steps));
  if (!(strength > 0.0 && strength <= 1.0))
    throw invalid_argument("img2img: strength must be in (0, 1], got " + std::to_string(strength));
  // The product is truncated as Python's int() does: 25 x 0.7 = 17.5 -> 17 steps.
  const auto steps_run =
      std::min(static_cast<int64_t>(static_cast<double>(num_inference_steps) * strength), num_inference_steps);
  if (steps_run < 1)
    throw invalid_argument("img2img: strength " + std::to_string(strength) + " of " +
                           std::to_string(num_inference_steps) + " steps runs no denoising step; raise the strength "
                           "or the number of steps");
  return num_inference_steps - steps_run;
}

}  // namespace dmx::sd
