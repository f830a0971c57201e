// The functional layers compute what the ATen reference ops compute, and LoRA merge/unmerge are exact inverses.
#include "diffmix/error.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/torch_compat.hpp"

#include <gtest/gtest.h>

#include <ATen/core/grad_mode.h>

namespace {

using namespace dmx::sd;

StateDict make_weights(std::map<std::string, at::Tensor> tensors) { return StateDict(std::move(tensors), "test"); }

TEST(LinearTest, LoadsByPrefixAndComputesXWtPlusB) {
  const auto w = at::randn({5, 3});
  const auto b = at::randn({5});
  auto weights = make_weights({{"proj.weight", w}, {"proj.bias", b}});
  const auto layer = Linear::load(weights, "proj", 3, 5, true);
  const auto x = at::randn({2, 3});
  EXPECT_TRUE(at::allclose(layer.forward(x), at::matmul(x, w.t()) + b));
  EXPECT_NO_THROW(weights.expect_all_taken());
}

TEST(LinearTest, WrongShapeFromTheConfigIsAnError) {
  auto weights = make_weights({{"proj.weight", at::randn({5, 3})}});
  EXPECT_THROW(Linear::load(weights, "proj", 5, 3, false), dmx::Error);
  EXPECT_THROW(Linear::load(weights, "proj", 3, 5, true), dmx::Error);  // bias expected but absent
}

TEST(LinearTest, LoraAddsScaledLowRankUpdate) {
  Linear layer(at::randn({4, 6}), at::randn({4}));
  const auto x = at::randn({3, 6});
  const auto base = layer.forward(x);
  const auto down = at::randn({2, 6});
  const auto up = at::randn({4, 2});
  layer.set_lora(down, up, 0.5);
  const auto expected = base + 0.5 * at::matmul(at::matmul(x, down.t()), up.t());
  EXPECT_TRUE(at::allclose(layer.forward(x), expected, 1e-5, 1e-5));

  layer.merge();
  EXPECT_TRUE(layer.merged());
  EXPECT_TRUE(at::allclose(layer.forward(x), expected, 1e-5, 1e-5));
  layer.unmerge();
  EXPECT_TRUE(at::allclose(layer.forward(x), expected, 1e-5, 1e-5));

  layer.merge();
  layer.clear_lora();  // unmerges: the original weight comes back exactly
  EXPECT_FALSE(layer.has_lora());
  EXPECT_TRUE(at::equal(layer.forward(x), base));
}

TEST(LinearTest, LoraOfTheWrongShapeIsRefused) {
  Linear layer(at::randn({4, 6}), at::Tensor());
  EXPECT_THROW(layer.set_lora(at::randn({2, 5}), at::randn({4, 2}), 1.0), dmx::Error);
  EXPECT_THROW(layer.set_lora(at::randn({2, 6}), at::randn({4, 3}), 1.0), dmx::Error);
}

TEST(Conv2dTest, MatchesAtenConvolution) {
  const auto w = at::randn({8, 3, 3, 3});
  const auto b = at::randn({8});
  auto weights = make_weights({{"conv.weight", w}, {"conv.bias", b}});
  const auto conv = Conv2d::load(weights, "conv", 3, 8, 3, 2, 1);
  const auto x = at::randn({1, 3, 9, 9});
  EXPECT_TRUE(at::allclose(conv.forward(x), at::conv2d(x, w, b, {2, 2}, {1, 1})));
}

TEST(NormTest, GroupAndLayerNormUseTheirAffineParameters) {
  const auto gw = at::randn({8});
  const auto gb = at::randn({8});
  const auto lw = at::randn({6});
  const auto lb = at::randn({6});
  auto weights = make_weights({{"gn.weight", gw}, {"gn.bias", gb}, {"ln.weight", lw}, {"ln.bias", lb}});
  const auto gn = GroupNorm::load(weights, "gn", 4, 8, 1e-6);
  const auto ln = LayerNorm::load(weights, "ln", 6, 1e-5);
  const auto x = at::randn({2, 8, 3, 3});
  EXPECT_TRUE(at::allclose(gn.forward(x), at::group_norm(x, 4, gw, gb, 1e-6)));
  const auto y = at::randn({2, 6});
  EXPECT_TRUE(at::allclose(ln.forward(y), at::layer_norm(y, {6}, lw, lb, 1e-5)));
  EXPECT_THROW(GroupNorm::load(weights, "gn", 3, 8, 1e-6), dmx::Error);  // 8 channels do not split into 3 groups
}

// Without grad, attention runs a block of queries at a time once the scores would pass 2^21 floats; the numbers are
// those of the whole product (computed with grad on, which keeps it whole) to float rounding: the products run as
// smaller GEMMs, which round differently (about 4e-7 of the largest value here; the parity tolerance is 1e-4).
TEST(AttentionTest, QueryBlocksGiveTheWholeProduct) {
  at::manual_seed(0);
  struct Case {
    std::vector<int64_t> query, key;
  };
  // 1500 queries × 2048 keys: blocks of 1024 rows of the one matrix; 2 × 8 heads × 600 × 600: blocks of 5 whole
  // matrices; 2 × 4 heads × 1200 × 2000 (2.4M scores each): blocks of 1048 rows of one matrix.
  for (const Case& c : {Case{{1, 1, 1500, 40}, {1, 1, 2048, 40}}, Case{{2, 8, 600, 40}, {2, 8, 600, 40}},
                        Case{{2, 4, 1200, 16}, {2, 4, 2000, 16}}}) {
    const auto query = at::randn(c.query), key = at::randn(c.key), value = at::randn(c.key);
    at::Tensor whole, blocked;
    {
      at::AutoGradMode grad(true);
      whole = dmx::compat::scaled_dot_product_attention(query, key, value);
    }
    {
      at::NoGradGuard no_grad;
      blocked = dmx::compat::scaled_dot_product_attention(query, key, value);
    }
    ASSERT_EQ(blocked.sizes(), whole.sizes());
    const double error = ((blocked - whole).abs().max() / whole.abs().max()).item<double>();
    EXPECT_LT(error, 1e-5) << "query " << c.query[2] << ", keys " << c.key[2];
  }
}

}  // namespace
