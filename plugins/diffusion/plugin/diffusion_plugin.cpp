// diffusion.so: the seven generative augmenters of Diff-Mix's paper as sample sources (docs/method.md).
//
//   real_gen   vanilla model, txt2img                          (+ the CLIP filter: Real-Filtering)
//   real_aug   vanilla model, same-class img2img, s = 0.1      (Real-Guidance)
//   real_mix   vanilla model, inter-class img2img
//   da_fusion  textual inversion, same-class img2img
//   diff_gen   textual inversion + LoRA, txt2img
//   diff_aug   textual inversion + LoRA, same-class img2img
//   diff_mix   textual inversion + LoRA, inter-class img2img
//
// All seven are one DiffusionSource; each class below only names its strategy.
#include <string>

#include "diffmix/diffusion/source_settings.hpp"
#include "diffmix/plugin.hpp"
#include "diffusion_source.hpp"

namespace {

using dmx::diffusion_plugin::DiffusionSource;

#define DMX_DIFFUSION_AUGMENTER(CLASS, NAME, DESCRIPTION)                                              \
  class CLASS : public DiffusionSource {                                                               \
   public:                                                                                             \
    static constexpr const char* kName = NAME;                                                         \
    static constexpr const char* kDescription = DESCRIPTION;                                           \
    static inline const char* const kConfigSchema = dmx::diffusion::source_settings_schema();          \
    explicit CLASS(const dmx::plugin::Context& context) : DiffusionSource(context, NAME) {}            \
  };

DMX_DIFFUSION_AUGMENTER(RealGen, "real_gen", "Real-Gen: text-to-image with the base model")
DMX_DIFFUSION_AUGMENTER(RealAug, "real_aug", "Real-Aug: same-class image-to-image with the base model")
DMX_DIFFUSION_AUGMENTER(RealMix, "real_mix", "Real-Mix: inter-class image-to-image with the base model")
DMX_DIFFUSION_AUGMENTER(DaFusion, "da_fusion", "Da-Fusion: same-class image-to-image with learned class tokens")
DMX_DIFFUSION_AUGMENTER(DiffGen, "diff_gen", "Diff-Gen: text-to-image with the fine-tuned model (TI+DB)")
DMX_DIFFUSION_AUGMENTER(DiffAug, "diff_aug", "Diff-Aug: same-class image-to-image with the fine-tuned model")
DMX_DIFFUSION_AUGMENTER(DiffMix, "diff_mix", "Diff-Mix: inter-class image-to-image with the fine-tuned model")

#undef DMX_DIFFUSION_AUGMENTER

}  // namespace

DMX_PLUGIN("diffusion", "1.0.0", "Diff-Mix and the diffusion augmenters of its paper (Stable Diffusion 1.x)",
           dmx::plugin::sample_source<RealGen>(), dmx::plugin::sample_source<RealAug>(),
           dmx::plugin::sample_source<RealMix>(), dmx::plugin::sample_source<DaFusion>(),
           dmx::plugin::sample_source<DiffGen>(), dmx::plugin::sample_source<DiffAug>(),
           dmx::plugin::sample_source<DiffMix>())
