// The strategies table against docs/method.md, row by row, and looking strategies up by name.
#include "diffmix/diffusion/synthesis_strategy.hpp"

#include "diffmix/error.hpp"

#include <gtest/gtest.h>

namespace {

using namespace dmx::diffusion;

struct Row {
  const char* name;
  SynthesisModel model;
  ClassPairing pairing;
  PromptStyle prompts;
  std::vector<double> strengths;
};

TEST(SynthesisStrategies, MatchTheDesignTableRowByRow) {
  using M = SynthesisModel;
  using P = ClassPairing;
  const std::vector<Row> design = {
      {"real-gen", M::Vanilla, P::EachClass, PromptStyle::ClassName, {}},
      {"real-aug", M::Vanilla, P::SameClass, PromptStyle::ClassName, {0.5, 0.7, 0.9}},
      {"real-mix", M::Vanilla, P::IndependentClasses, PromptStyle::ClassName, {0.5, 0.7, 0.9}},
      {"da-fusion", M::TextualInversion, P::SameClass, PromptStyle::FinetunedPrompt, {0.25, 0.5, 0.75, 1.0}},
      {"diff-gen", M::TextualInversionDreamBooth, P::EachClass, PromptStyle::FinetunedPrompt, {}},
      {"diff-aug", M::TextualInversionDreamBooth, P::SameClass, PromptStyle::FinetunedPrompt, {0.5, 0.7, 0.9}},
      {"diff-mix", M::TextualInversionDreamBooth, P::IndependentClasses, PromptStyle::FinetunedPrompt,
       {0.5, 0.7, 0.9}},
  };
  const auto& table = synthesis_strategies();
  ASSERT_EQ(table.size(), design.size());
  for (size_t i = 0; i < design.size(); ++i) {
    SCOPED_TRACE(design[i].name);
    EXPECT_EQ(table[i].name, design[i].name);
    EXPECT_EQ(table[i].model, design[i].model);
    EXPECT_EQ(table[i].pairing, design[i].pairing);
    EXPECT_EQ(table[i].prompt_style, design[i].prompts);
    EXPECT_EQ(table[i].default_strengths, design[i].strengths);
    // txt2img exactly when there is no reference image; "Real-" exactly when the model is vanilla.
    EXPECT_EQ(table[i].uses_reference_image(), design[i].pairing != P::EachClass);
    EXPECT_EQ(table[i].is_finetuned(), std::string(design[i].name).rfind("real-", 0) != 0);
    EXPECT_EQ(&find_synthesis_strategy(design[i].name), &table[i]);
  }
}

TEST(SynthesisStrategies, UnknownNameSuggestsTheNearestOne) {
  try {
    find_synthesis_strategy("dif-mix");
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(std::string(e.what()).find("'dif-mix'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'diff-mix'?"), std::string::npos) << e.what();
  }
  try {
    find_synthesis_strategy("cutmix");
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("did you mean"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("real-gen, real-aug, real-mix, da-fusion, diff-gen, diff-aug, diff-mix"),
              std::string::npos)
        << e.what();
  }
}

TEST(SynthesisStrategies, FinetunedModelsNameTheirFinetuneStrategy) {
  EXPECT_EQ(required_finetune_strategy(SynthesisModel::Vanilla), "");
  EXPECT_EQ(required_finetune_strategy(SynthesisModel::TextualInversion), "ti");
  EXPECT_EQ(required_finetune_strategy(SynthesisModel::TextualInversionDreamBooth), "ti+db");
}

TEST(SynthesisStrategies, RealPromptsUseClassNamesAndFinetunedOnesTheManifestsPrompts) {
  const std::vector<std::string> names = {"Black footed Albatross", "Laysan Albatross"};
  EXPECT_EQ(class_prompts(find_synthesis_strategy("real-mix"), names),
            (std::vector<std::string>{"a photo of a Black footed Albatross", "a photo of a Laysan Albatross"}));
  // What `diffmix finetune` records in finetune_manifest.json's "prompts".
  const std::vector<std::string> finetuned = {"a photo of a <class_0> bird", "a photo of a <class_1> bird"};
  EXPECT_EQ(class_prompts(find_synthesis_strategy("diff-mix"), names, finetuned), finetuned);
  EXPECT_EQ(class_prompts(find_synthesis_strategy("da-fusion"), names, finetuned), finetuned);
  try {
    class_prompts(find_synthesis_strategy("diff-aug"), names, {finetuned[0]});
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("prompts for 1 classes but the dataset has 2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
