// The shared sampling loop.
#include "denoising_loop.hpp"

#include "diffmix/cancellation.hpp"

namespace dmx::sd {

at::Tensor run_denoising_loop(const UNet2DConditionModel& unet, DPMSolverMultistepScheduler& scheduler,
                              at::Tensor latents, const std::vector<int64_t>& timesteps,
                              const Conditioning& conditioning, const StepCallback& on_step) {
  const auto count = static_cast<int64_t>(timesteps.size());
  for (int64_t i = 0; i < count; ++i) {
    throw_if_cancelled("Stable Diffusion sampling");
    const int64_t t = timesteps[static_cast<size_t>(i)];
    // DPM-Solver's scale_model_input is the identity, so the latents go in as they are.
    const auto unet_input = conditioning.guided() ? at::cat({latents, latents}) : latents;
    const auto timestep = at::scalar_tensor(t, at::TensorOptions().dtype(at::kLong).device(unet.device()));
    const auto unet_output =
        unet.forward(unet_input.to(unet.dtype()), timestep, conditioning.embeddings).to(at::kFloat);
    at::Tensor noise_pred = unet_output;
    if (conditioning.guided()) {
      const auto branches = unet_output.chunk(2);
      noise_pred = branches[0] + (branches[1] - branches[0]) * conditioning.guidance_scale;
    }
    latents = scheduler.step(noise_pred, t, latents);
    if (on_step) on_step(DenoisingStep{i, count, t, unet_input, unet_output, noise_pred, latents});
  }
  return latents;
}

}  // namespace dmx::sd
