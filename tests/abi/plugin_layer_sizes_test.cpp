// The plugin side of the size rule, in plugin.hpp: the tables a host hands a plugin (dmx_host, dmx_create_info,
// dmx_dataset_view, and the dmx_sample it lends to `next`) are accepted from their ABI 1.0 size up, larger ones from
// a newer host included, and refused with a message below it. The host tables here are built by hand.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "diffmix/plugin.hpp"

namespace {

class Streams {
 public:
  static constexpr const char* kName = "streams";
  static constexpr const char* kDescription = "one sample, then nothing";
  static constexpr const char* kConfigSchema = "[]";
  explicit Streams(const dmx::plugin::Context& context) : num_classes_(context.num_classes()) {}
  void prepare() {}
  void synthesize(const std::string&, int64_t) {}
  std::optional<dmx::plugin::Sample> next() {
    dmx::plugin::Sample sample;
    sample.image = at::full({1, 1, 3}, 9, at::kByte);
    sample.soft_label = at::full({num_classes_}, 1.0f / static_cast<float>(num_classes_));
    sample.seed = 42;
    return sample;
  }

 private:
  int32_t num_classes_;
};

class Seeks : public Streams {
 public:
  static constexpr const char* kName = "seeks";
  using Streams::Streams;
  void seek(int64_t) {}
};

class Shards : public Streams {
 public:
  static constexpr const char* kName = "shards";
  using Streams::Streams;
  void synthesize_part(const std::string&, int64_t, int64_t, int64_t) {}
};

class PaperOnly {
 public:
  static constexpr const char* kName = "paper_only";
  static constexpr const char* kDescription = "synthesize only";
  static constexpr const char* kConfigSchema = "[]";
  explicit PaperOnly(const dmx::plugin::Context&) {}
  void prepare() {}
  void synthesize(const std::string&, int64_t) {}
};

dmx_plugin_descriptor descriptor{};

// describe() as the entry calls it, then forgets the host: the test's table dies with the test.
const dmx_plugin_descriptor* describe_with(const dmx_host* host, std::string& message) {
  dmx_error error{};
  const dmx_plugin_descriptor* described = dmx::plugin::describe(host, &error, &descriptor);
  dmx::plugin::detail::host_slot() = nullptr;
  message = error.message;
  return described;
}

std::string bytes(size_t n) { return std::to_string(n) + " bytes"; }

// ---- dmx_host, read by describe -----------------------------------------------------------------------------

TEST(PluginLayerSizes, DescribeAcceptsAHostTableOfThe1_0Size) {
  dmx_host host{};
  host.struct_size = static_cast<uint32_t>(DMX_HOST_SIZE_1_0);
  host.abi_version = {1, 0};
  std::string message;
  EXPECT_EQ(describe_with(&host, message), &descriptor) << message;
}

TEST(PluginLayerSizes, DescribeAcceptsALargerHostTableFromANewerHost) {
  struct {
    dmx_host known;
    void (*later_service)(void* host_data);
  } newer{};
  newer.known.struct_size = sizeof(newer);
  newer.known.abi_version = {1, 7};
  std::string message;
  EXPECT_EQ(describe_with(&newer.known, message), &descriptor) << message;
}

TEST(PluginLayerSizes, DescribeRefusesAHostTableSmallerThan1_0) {
  dmx_host host{};
  host.struct_size = static_cast<uint32_t>(DMX_HOST_SIZE_1_0 - 8);
  host.abi_version = {1, 0};
  std::string message;
  EXPECT_EQ(describe_with(&host, message), nullptr);
  EXPECT_NE(message.find("services table is " + bytes(DMX_HOST_SIZE_1_0 - 8) + ", smaller than the " +
                         bytes(DMX_HOST_SIZE_1_0) + " of ABI 1.0"),
            std::string::npos)
      << message;
  EXPECT_EQ(describe_with(nullptr, message), nullptr);
  EXPECT_NE(message.find("no services table"), std::string::npos) << message;
}

// ---- dmx_create_info and dmx_dataset_view, read by Context ------------------------------------------------------

dmx_dataset_view view_of_size(size_t size) {
  dmx_dataset_view view{};
  view.struct_size = static_cast<uint32_t>(size);
  return view;
}

dmx_create_info info_of_size(size_t size, const dmx_dataset_view* dataset = nullptr) {
  dmx_create_info info{};
  info.struct_size = static_cast<uint32_t>(size);
  info.instance_name = "sized";
  info.config_toml = "";
  info.num_classes = 3;
  info.seed = 17;
  info.device = {kDLCPU, 0};
  info.cache_dir = "";
  info.dataset = dataset;
  return info;
}

TEST(PluginLayerSizes, ContextAcceptsTablesOfThe1_0Size) {
  const dmx_dataset_view view = view_of_size(DMX_DATASET_VIEW_SIZE_1_0);
  const dmx::plugin::Context context(info_of_size(DMX_CREATE_INFO_SIZE_1_0, &view));
  EXPECT_EQ(context.name(), "sized");
  EXPECT_EQ(context.num_classes(), 3);
  EXPECT_EQ(context.seed(), 17u);
  EXPECT_EQ(context.dataset(), &view);
}

void expect_refused(const dmx_create_info& info, const std::string& table, size_t size, size_t size_1_0) {
  try {
    dmx::plugin::Context context(info);
    ADD_FAILURE() << table << " of " << size << " bytes was accepted";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find(table + " is " + bytes(size) + ", smaller than the " + bytes(size_1_0) +
                                         " of ABI 1.0"),
              std::string::npos)
        << e.what();
  }
}

TEST(PluginLayerSizes, ContextRefusesTablesSmallerThan1_0) {
  expect_refused(info_of_size(DMX_CREATE_INFO_SIZE_1_0 - 8), "dmx_create_info", DMX_CREATE_INFO_SIZE_1_0 - 8,
                 DMX_CREATE_INFO_SIZE_1_0);
  const dmx_dataset_view small_view = view_of_size(DMX_DATASET_VIEW_SIZE_1_0 - 8);
  expect_refused(info_of_size(DMX_CREATE_INFO_SIZE_1_0, &small_view), "dmx_dataset_view",
                 DMX_DATASET_VIEW_SIZE_1_0 - 8, DMX_DATASET_VIEW_SIZE_1_0);
}

// The refusal crosses the ABI as a status and a message, like any other failure of create.
TEST(PluginLayerSizes, CreateReportsATooSmallCreateInfoAsAStatus) {
  const dmx_augmenter_factory* factory = dmx::plugin::sample_source<Streams>();
  const dmx_create_info info = info_of_size(DMX_CREATE_INFO_SIZE_1_0 - 8);
  void* instance = nullptr;
  dmx_error error{};
  EXPECT_EQ(factory->create(&info, &instance, &error), DMX_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(instance, nullptr);
  EXPECT_NE(std::string(error.message).find("dmx_create_info"), std::string::npos) << error.message;
}

// ---- the dmx_sample a host lends to next ------------------------------------------------------------------------

// A Streams instance through its C table, destroyed at the end of the test.
struct StreamsInstance {
  const dmx_augmenter_factory* factory = dmx::plugin::sample_source<Streams>();
  void* instance = nullptr;
  StreamsInstance() {
    const dmx_create_info info = info_of_size(sizeof(dmx_create_info));
    dmx_error error{};
    if (factory->create(&info, &instance, &error) != DMX_STATUS_OK) ADD_FAILURE() << error.message;
  }
  ~StreamsInstance() { factory->destroy(instance); }
  dmx_status next(dmx_sample* out, dmx_error* error) { return factory->sample_source->next(instance, out, error); }
};

void release(dmx_sample& sample) {
  for (DLManagedTensor* tensor : {sample.image, sample.soft_label})
    if (tensor && tensor->deleter) tensor->deleter(tensor);
}

TEST(PluginLayerSizes, NextFillsAHostSampleOfThe1_0Size) {
  StreamsInstance streams;
  dmx_sample out{};
  out.struct_size = static_cast<uint32_t>(DMX_SAMPLE_SIZE_1_0);
  dmx_error error{};
  ASSERT_EQ(streams.next(&out, &error), DMX_STATUS_OK) << error.message;
  EXPECT_EQ(out.struct_size, DMX_SAMPLE_SIZE_1_0);
  EXPECT_EQ(out.seed, 42u);
  ASSERT_NE(out.image, nullptr);
  EXPECT_EQ(static_cast<const uint8_t*>(out.image->dl_tensor.data)[0], 9);
  release(out);
}

// A newer host lends a larger sample: the plugin fills what it knows, says so, and leaves the rest alone.
TEST(PluginLayerSizes, NextFillsNoMoreOfALargerHostSampleThanItKnows) {
  StreamsInstance streams;
  struct {
    dmx_sample known;
    float later_field;
  } newer{};
  newer.known.struct_size = sizeof(newer);
  newer.later_field = 7.0f;
  dmx_error error{};
  ASSERT_EQ(streams.next(&newer.known, &error), DMX_STATUS_OK) << error.message;
  EXPECT_EQ(newer.known.struct_size, sizeof(dmx_sample));
  EXPECT_EQ(newer.later_field, 7.0f);
  EXPECT_EQ(newer.known.seed, 42u);
  release(newer.known);
}

TEST(PluginLayerSizes, NextRefusesAHostSampleSmallerThan1_0) {
  StreamsInstance streams;
  dmx_sample out{};
  out.struct_size = static_cast<uint32_t>(DMX_SAMPLE_SIZE_1_0 - 8);
  dmx_error error{};
  EXPECT_EQ(streams.next(&out, &error), DMX_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(out.image, nullptr);
  EXPECT_NE(std::string(error.message).find("dmx_sample is " + bytes(DMX_SAMPLE_SIZE_1_0 - 8)), std::string::npos)
      << error.message;
}

// ---- which functions sample_source<T>() offers ---------------------------------------------------------------

TEST(PluginLayerSizes, TheSourceTableOffersNextSeekAndPartsOnlyWhenTheClassHasThem) {
  const dmx_sample_source_api* streams = dmx::plugin::sample_source<Streams>()->sample_source;
  const dmx_sample_source_api* seeks = dmx::plugin::sample_source<Seeks>()->sample_source;
  const dmx_sample_source_api* paper_only = dmx::plugin::sample_source<PaperOnly>()->sample_source;
  EXPECT_EQ(streams->struct_size, sizeof(dmx_sample_source_api));
  EXPECT_NE(streams->next, nullptr);
  EXPECT_EQ(streams->seek, nullptr);
  EXPECT_NE(seeks->next, nullptr);
  EXPECT_NE(seeks->seek, nullptr);
  EXPECT_EQ(paper_only->next, nullptr);
  EXPECT_NE(paper_only->prepare, nullptr);
  EXPECT_NE(paper_only->synthesize, nullptr);
  EXPECT_EQ(paper_only->synthesize_part, nullptr);
  const dmx_sample_source_api* shards = dmx::plugin::sample_source<Shards>()->sample_source;
  ASSERT_NE(shards->synthesize_part, nullptr);
  dmx_error error{};
  EXPECT_EQ(shards->synthesize_part(nullptr, "out", 10, 8, 12, &error), DMX_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error.message).find("samples [8, 12) are not a part of a run of 10"), std::string::npos)
      << error.message;
}

}  // namespace
