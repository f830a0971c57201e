// Config errors carry file:line:column and suggest the nearest valid key or value.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "diffmix/config.hpp"
#include "diffmix/error.hpp"

namespace {

using dmx::config::Document;

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST(Config, ReadsTypedValuesWithDefaults) {
  const auto doc = Document::parse_string("[train]\nepochs = 3\nlr = 0.1\nname = \"x\"\nseeds = [1, 2]\n", "a.toml");
  const auto train = doc.root().table("train");
  ASSERT_TRUE(train);
  EXPECT_EQ(train->integer("epochs", 1, {1, 100}), 3);
  EXPECT_DOUBLE_EQ(train->number("lr", 0.5), 0.1);
  EXPECT_DOUBLE_EQ(train->number("momentum", 0.9), 0.9);
  EXPECT_EQ(train->string("name", ""), "x");
  EXPECT_EQ(train->integer_list("seeds", {}), (std::vector<int64_t>{1, 2}));
  EXPECT_NO_THROW(doc.root().finish());
}

// One content, one text: a table written inline or as sections prints the same document, which parses back.
TEST(Config, TomlDocumentWritesEveryTableAsASection) {
  const auto inline_tables = Document::parse_string("a = 1\nsource = { model = \"m\", finetune = { steps = 4 } }\n",
                                                    "inline.toml");
  const auto sections = Document::parse_string("a = 1\n[source]\nmodel = \"m\"\n[source.finetune]\nsteps = 4\n",
                                               "sections.toml");
  const std::string text = dmx::config::toml_document(inline_tables.root().raw());
  EXPECT_EQ(text, dmx::config::toml_document(sections.root().raw()));
  EXPECT_EQ(text.find('{'), std::string::npos) << text;
  const auto again = Document::parse_string(text, "again.toml");
  EXPECT_EQ(again.root().table("source")->table("finetune")->integer("steps", 0), 4);
}

TEST(Config, IntegerWhereANumberIsExpectedIsAccepted) {
  const auto doc = Document::parse_string("lr = 1\n", "a.toml");
  EXPECT_DOUBLE_EQ(doc.root().number("lr", 0.0), 1.0);
}

TEST(Config, UnknownKeyNamesPositionSectionAndSuggestion) {
  const auto doc = Document::parse_string("[train]\nepochs = 3\nlerning_rate = 0.1\n", "quick.toml");
  const auto train = doc.root().table("train");
  train->integer("epochs", 1);
  train->number("learning_rate", 0.1);
  const auto message = error_of([&] { doc.root().finish(); });
  EXPECT_NE(message.find("quick.toml:3:1: unknown key 'lerning_rate' in [train]; did you mean 'learning_rate'?"),
            std::string::npos) << message;
}

TEST(Config, AnUnknownKeyFarFromEveryNameGetsTheTablesKeys) {
  const auto doc = Document::parse_string("[train]\nlerning_rate = 0.1\n", "quick.toml");
  const auto train = doc.root().table("train");
  train->integer("epochs", 1);
  train->number("lr", 0.1);
  const auto message = error_of([&] { doc.root().finish(); });
  EXPECT_NE(message.find("quick.toml:2:1: unknown key 'lerning_rate' in [train]; its keys are epochs, lr"),
            std::string::npos) << message;
}

TEST(Config, UnknownSectionIsReportedAtTheTopLevel) {
  const auto doc = Document::parse_string("[trian]\nepochs = 3\n", "quick.toml");
  doc.root().table("train");
  const auto message = error_of([&] { doc.root().finish(); });
  EXPECT_NE(message.find("unknown key 'trian' at the top level; did you mean 'train'?"), std::string::npos) << message;
}

TEST(Config, WrongTypeNamesKeyPositionAndTypes) {
  const auto doc = Document::parse_string("[train]\nepochs = \"three\"\n", "quick.toml");
  const auto message = error_of([&] { doc.root().table("train")->integer("epochs", 1); });
  EXPECT_NE(message.find("quick.toml:2:10: key 'epochs' in [train]: must be an integer, got a string"), std::string::npos)
      << message;
}

TEST(Config, OutOfRangeNamesTheRangeAndTheValue) {
  const auto doc = Document::parse_string("p = 1.5\n", "quick.toml");
  const auto message = error_of([&] { doc.root().number("p", 0.1, {0.0, 1.0}); });
  EXPECT_NE(message.find("quick.toml:1:5: key 'p': must be between 0 and 1, got 1.5"), std::string::npos) << message;
}

TEST(Config, AStringOutsideItsChoicesSuggestsTheNearest) {
  const auto doc = Document::parse_string("model = \"resnet5O\"\n", "quick.toml");
  const auto message = error_of([&] { doc.root().string("model", "", {"small_cnn", "resnet18", "resnet50"}); });
  EXPECT_NE(message.find("unknown value 'resnet5O'; did you mean 'resnet50'?"), std::string::npos) << message;
}

TEST(Config, MissingRequiredKeyNamesTheSection) {
  const auto doc = Document::parse_string("[dataset]\n", "quick.toml");
  const auto message = error_of([&] { doc.root().table("dataset")->required_string("kind"); });
  EXPECT_NE(message.find("missing required key 'kind' in [dataset]"), std::string::npos) << message;
}

TEST(Config, SyntaxErrorHasFileLineAndColumn) {
  const auto message = error_of([] { Document::parse_string("[train]\nepochs = = 3\n", "broken.toml"); });
  EXPECT_EQ(message.rfind("broken.toml:2:", 0), 0u) << message;
}

TEST(Config, ArraysOfTablesAreReadAndCheckedEach) {
  const auto doc = Document::parse_string(
      "[[augment]]\naugmenter = \"cutmix\"\nalpha = 1.0\n[[augment]]\naugmenter = \"mixup\"\nalhpa = 0.2\n", "c.toml");
  const auto tables = doc.root().table_array("augment");
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[1].path(), "augment[1]");
  for (const auto& t : tables) {
    t.required_string("augmenter");
    t.number("alpha", 1.0);
  }
  const auto message = error_of([&] { doc.root().finish(); });
  EXPECT_NE(message.find("c.toml:6:1: unknown key 'alhpa' in [augment[1]]; did you mean 'alpha'?"), std::string::npos)
      << message;
}

TEST(Config, MissingFileIsANotFoundErrorNamingIt) {
  try {
    Document::parse_file("/nonexistent/run.toml");
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/run.toml"), std::string::npos);
  }
}

TEST(Config, AConfigFileWithoutSettingsIsAConfigErrorNamingIt) {
  const auto path = std::filesystem::temp_directory_path() / ("dmx_empty_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "# every line commented out\n# [train]\n";
  try {
    Document::parse_file(path.string());
    FAIL() << "an empty config file was accepted";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Config);
    EXPECT_NE(std::string(e.what()).find(path.string() + ": the config file holds no settings"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Config, TablesOutliveTheirDocument) {
  std::optional<dmx::config::Table> train;
  {
    const auto doc = Document::parse_string("[train]\nepochs = 4\n", "a.toml");
    train = doc.root().table("train");
  }
  EXPECT_EQ(train->integer("epochs", 1), 4);
}

TEST(NearestName, SuggestsOnlyCloseNames) {
  EXPECT_EQ(dmx::config::nearest_name("lerning_rate", {"learning_rate", "epochs"}), "learning_rate");
  EXPECT_EQ(dmx::config::nearest_name("ephocs", {"learning_rate", "epochs"}), "epochs");
  EXPECT_FALSE(dmx::config::nearest_name("batch", {"learning_rate", "epochs"}));
}

}  // namespace
