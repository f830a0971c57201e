// The seven ways Diff-Mix's paper synthesizes training images (docs/method.md, "Synthesis strategies"), as data:
//
//   | strategy  | model   | reference image              | prompt class                 | default strengths      |
//   |-----------|---------|------------------------------|------------------------------|------------------------|
//   | real-gen  | vanilla | none (txt2img)               | each class                   | — (txt2img)            |
//   | real-aug  | vanilla | same class                   | same class                   | {0.5, 0.7, 0.9}        |
//   | real-mix  | vanilla | any class                    | any class                    | {0.5, 0.7, 0.9}        |
//   | da-fusion | TI      | same class                   | same class                   | {0.25, 0.5, 0.75, 1.0} |
//   | diff-gen  | TI+DB   | none (txt2img)               | each class                   | — (txt2img)            |
//   | diff-aug  | TI+DB   | same class                   | same class                   | {0.5, 0.7, 0.9}        |
//   | diff-mix  | TI+DB   | source class drawn uniformly | target class drawn uniformly | {0.5, 0.7, 0.9}        |
//
//   const auto& strategy = dmx::diffusion::find_synthesis_strategy("diff-mix");
//   auto prompts = dmx::diffusion::class_prompts(strategy, class_names, finetune_manifest.prompts);
//
// "Real-" strategies use the vanilla model and the plain class name ("a photo of a {class name}"); the fine-tuned
// ones prompt with exactly what the model was fine-tuned on, i.e. the "prompts" that `diffmix finetune` records in
// finetune_manifest.json ("a photo of a <class_i> {metaclass}"), so synthesis can never drift from training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::diffusion {

// Which Stable Diffusion weights a strategy samples from.
enum class SynthesisModel {
  Vanilla,                     // the base model as downloaded
  TextualInversion,            // base model + learned class tokens ("ti" fine-tuning; Da-Fusion)
  TextualInversionDreamBooth,  // learned class tokens + LoRA ("ti+db" fine-tuning; Diff-*)
};

// How a sample's reference (source) class and prompt (target) class are chosen.
enum class ClassPairing {
  EachClass,           // txt2img: one class per sample, no reference image; source = target
  SameClass,           // img2img: the reference image comes from the prompt's class (intra-class editing)
  IndependentClasses,  // img2img: source and target classes drawn independently (inter-class editing)
};

// How prompts name a class.
enum class PromptStyle {
  ClassName,        // "a photo of a {class name}"
  FinetunedPrompt,  // the class's prompt from finetune_manifest.json: "a photo of a <class_i> {metaclass}"
};

struct SynthesisStrategy {
  std::string name;  // "diff-mix"
  SynthesisModel model = SynthesisModel::Vanilla;
  ClassPairing pairing = ClassPairing::EachClass;
  PromptStyle prompt_style = PromptStyle::ClassName;
  // SDEdit strengths a sample's strength is drawn from, uniformly; empty for txt2img (which always runs the full
  // schedule, i.e. strength 1).
  std::vector<double> default_strengths;

  // img2img strategies edit a training image; txt2img ones start from noise.
  bool uses_reference_image() const { return pairing != ClassPairing::EachClass; }
  bool is_finetuned() const { return model != SynthesisModel::Vanilla; }
};

// All seven, in the order of the table above.
const std::vector<SynthesisStrategy>& synthesis_strategies();
std::vector<std::string> synthesis_strategy_names();

// The strategy called `name`; an unknown name is a NotFound error listing the known ones, with a "did you mean"
// for a likely typo.
const SynthesisStrategy& find_synthesis_strategy(const std::string& name);

// The fine-tuning a strategy's model must come from, spelled as finetune_manifest.json's "strategy" ("ti",
// "ti+db"); empty for the vanilla model.
std::string required_finetune_strategy(SynthesisModel model);

// The prompt of every class. ClassName: built from `class_names`. FinetunedPrompt: `finetuned_prompts` (the
// manifest's "prompts", one per class) returned as they are; a count that differs from the class count is an
// InvalidArgument error naming both.
std::vector<std::string> class_prompts(const SynthesisStrategy& strategy, const std::vector<std::string>& class_names,
                                       const std::vector<std::string>& finetuned_prompts = {});

// "a photo of a {class name}", the vanilla model's prompt.
std::string class_name_prompt(const std::string& class_name);

}  // namespace dmx::diffusion
