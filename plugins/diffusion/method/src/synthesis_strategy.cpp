#include "diffmix/diffusion/synthesis_strategy.hpp"

#include "diffmix/config.hpp"
#include "diffmix/error.hpp"

namespace dmx::diffusion {
namespace {

// docs/method.md's table. Real-Aug draws from the same strengths as Diff-Aug, so the two differ only in the model;
// Real-Guidance is Real-Aug at a fixed 0.1, and the paper's few-shot sweep over {0.1, 0.3, …, 1.0} is one run per
// fixed strength. Real-Mix and Diff-Mix draw classes the same way (the authors'
// sample_mp.py treats them alike); only the model and the prompts differ.
std::vector<SynthesisStrategy> make_strategies() {
  using M = SynthesisModel;
  using P = ClassPairing;
  using S = PromptStyle;
  return {
      {"real-gen", M::Vanilla, P::EachClass, S::ClassName, {}},
      {"real-aug", M::Vanilla, P::SameClass, S::ClassName, {0.5, 0.7, 0.9}},
      {"real-mix", M::Vanilla, P::IndependentClasses, S::ClassName, {0.5, 0.7, 0.9}},
      {"da-fusion", M::TextualInversion, P::SameClass, S::FinetunedPrompt, {0.25, 0.5, 0.75, 1.0}},
      {"diff-gen", M::TextualInversionDreamBooth, P::EachClass, S::FinetunedPrompt, {}},
      {"diff-aug", M::TextualInversionDreamBooth, P::SameClass, S::FinetunedPrompt, {0.5, 0.7, 0.9}},
      {"diff-mix", M::TextualInversionDreamBooth, P::IndependentClasses, S::FinetunedPrompt, {0.5, 0.7, 0.9}},
  };
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

const std::vector<SynthesisStrategy>& synthesis_strategies() {
  static const std::vector<SynthesisStrategy> strategies = make_strategies();
  return strategies;
}

std::vector<std::string> synthesis_strategy_names() {
  std::vector<std::string> names;
  for (const auto& strategy : synthesis_strategies()) names.push_back(strategy.name);
  return names;
}

const SynthesisStrategy& find_synthesis_strategy(const std::string& name) {
  for (const auto& strategy : synthesis_strategies())
    if (strategy.name == name) return strategy;
  std::string message = "unknown synthesis strategy '" + name + "'";
  if (auto guess = config::nearest_name(name, synthesis_strategy_names()))
    message += "; did you mean '" + *guess + "'?";
  throw not_found(message + " (known: " + join(synthesis_strategy_names()) + ")");
}

std::string required_finetune_strategy(SynthesisModel model) {
  switch (model) {
    case SynthesisModel::Vanilla: return "";
    case SynthesisModel::TextualInversion: return "ti";
    case SynthesisModel::TextualInversionDreamBooth: return "ti+db";
  }
  return "";
}

std::string class_name_prompt(const std::string& class_name) { return "a photo of a " + class_name; }

std::vector<std::string> class_prompts(const SynthesisStrategy& strategy, const std::vector<std::string>& class_names,
                                       const std::vector<std::string>& finetuned_prompts) {
  if (strategy.prompt_style == PromptStyle::FinetunedPrompt) {
    if (finetuned_prompts.size() != class_names.size())
      throw invalid_argument(strategy.name + ": the fine-tuned model has prompts for " +
                             std::to_string(finetuned_prompts.size()) + " classes but the dataset has " +
                             std::to_string(class_names.size()) + " (finetune_manifest.json \"prompts\")");
    return finetuned_prompts;
  }
  std::vector<std::string> prompts;
  prompts.reserve(class_names.size());
  for (const auto& name : class_names) prompts.push_back(class_name_prompt(name));
  return prompts;
}

}  // namespace dmx::diffusion
