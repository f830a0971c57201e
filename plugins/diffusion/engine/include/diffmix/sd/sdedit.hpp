// SDEdit (img2img) enters the sampling schedule part-way: with strength s of T steps it runs the last int(T·s)
// timesteps, starting from the reference latents noised to the first of them (diffusers' get_timesteps).
//
//   scheduler.set_timesteps(25);
//   const int64_t begin = dmx::sd::sdedit_begin_index(25, 0.7);   // 8: runs 17 steps from t = 679
//   scheduler.set_begin_index(begin);
#pragma once

#include <cstdint>

namespace dmx::sd {

// T - min(int(T·s), T). Throws dmx::Error (invalid argument) unless 0 < s <= 1 and int(T·s) >= 1 (at least one step).
int64_t sdedit_begin_index(int64_t num_inference_steps, double strength);

}  // namespace dmx::sd
