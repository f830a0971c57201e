// The contact-sheet composer: sizes, where tiles and captions land (checked pixel by pixel), caption wrapping.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "diffmix/error.hpp"
#include "diffmix/report/image_grid.hpp"

namespace {

using dmx::report::ContactSheet;
using dmx::report::GridStyle;
using dmx::report::Rect;

at::Tensor solid(int64_t height, int64_t width, std::vector<int> rgb) {
  at::Tensor image = at::empty({height, width, static_cast<int64_t>(rgb.size())}, at::kByte);
  for (size_t c = 0; c < rgb.size(); ++c) image.select(2, static_cast<int64_t>(c)).fill_(rgb[c]);
  return image;
}

at::Tensor crop(const at::Tensor& image, const Rect& rect) {
  return image.slice(0, rect.y, rect.y + rect.height).slice(1, rect.x, rect.x + rect.width);
}

// What a line of text centred at the top of a `rect`-sized patch looks like on the style's background.
at::Tensor expected_text_patch(const std::vector<std::string>& lines, const Rect& rect, int64_t scale,
                               const GridStyle& style) {
  at::Tensor patch = at::empty({rect.height, rect.width, 3}, at::kByte);
  patch.fill_(style.background.r);  // the default background is white: one value for all channels
  for (size_t i = 0; i < lines.size(); ++i)
    dmx::report::draw_text(patch, lines[i], (rect.width - dmx::report::text_width(lines[i], scale)) / 2,
                           static_cast<int64_t>(i) * dmx::report::text_height(scale), scale, style.ink);
  return patch;
}

bool all_pixels_are(const at::Tensor& area, std::vector<int> rgb) {
  for (size_t c = 0; c < 3; ++c)
    if (!area.select(2, static_cast<int64_t>(c)).eq(rgb[c]).all().item<bool>()) return false;
  return true;
}

ContactSheet two_row_sheet() {
  ContactSheet sheet;
  sheet.title = "Sheet";
  sheet.rows.push_back({"row A", {{solid(40, 20, {200, 0, 0}), "tall"}, {solid(10, 30, {0, 200, 0}), "wide"}}});
  sheet.rows.push_back({"", {{solid(8, 8, {90}), "gray"}}});
  return sheet;
}

GridStyle small_style() {
  GridStyle style;
  style.cell = 32;
  style.gap = 4;
  return style;
}

TEST(ImageGrid, LayoutFollowsTheDocumentedArithmetic) {
  const auto layout = dmx::report::layout_grid(two_row_sheet(), small_style());
  // Title: 2× font, 16 px high; row label 8 px + 2 px pad; cells 32; caption pad 2 + one 8 px line; gap 4.
  EXPECT_EQ(layout.title.y, 4);
  EXPECT_EQ(layout.title.height, 16);
  EXPECT_EQ(layout.row_labels[0].y, 24);
  EXPECT_EQ(layout.cells[0][0].y, 34);
  EXPECT_EQ(layout.cells[0][1].x, 4 + 32 + 4);
  EXPECT_EQ(layout.captions[0][0].y, 34 + 32 + 2);
  EXPECT_EQ(layout.captions[0][0].height, 8);
  EXPECT_EQ(layout.row_labels[1].height, 0);  // no label: no line
  EXPECT_EQ(layout.cells[1][0].y, 34 + 32 + 2 + 8 + 4);
  EXPECT_EQ(layout.width, 4 + 2 * (32 + 4));
  EXPECT_EQ(layout.height, 34 + 2 * (32 + 2 + 8 + 4));

  // Aspect kept, longer side = cell, centred: 40×20 → 32×16; 10×30 → 11×32.
  const Rect tall = layout.images[0][0], wide = layout.images[0][1];
  EXPECT_EQ(tall.height, 32);
  EXPECT_EQ(tall.width, 16);
  EXPECT_EQ(tall.x, layout.cells[0][0].x + 8);
  EXPECT_EQ(wide.width, 32);
  EXPECT_EQ(wide.height, 11);
  EXPECT_EQ(wide.y, layout.cells[0][1].y + 10);
}

TEST(ImageGrid, ComposerDrawsTilesAndCaptionsWhereTheLayoutSays) {
  const ContactSheet sheet = two_row_sheet();
  const GridStyle style = small_style();
  const auto layout = dmx::report::layout_grid(sheet, style);
  const at::Tensor image = dmx::report::compose_grid(sheet, style);
  ASSERT_EQ(image.sizes(), (at::IntArrayRef{layout.height, layout.width, 3}));

  // Solid tiles stay solid after scaling; the rest of each cell is the cell background.
  EXPECT_TRUE(all_pixels_are(crop(image, layout.images[0][0]), {200, 0, 0}));
  EXPECT_TRUE(all_pixels_are(crop(image, layout.images[0][1]), {0, 200, 0}));
  EXPECT_TRUE(all_pixels_are(crop(image, layout.images[1][0]), {90, 90, 90}));  // gray repeated to RGB
  const Rect left_margin{layout.cells[0][0].x, layout.cells[0][0].y, 8, 32};
  EXPECT_TRUE(all_pixels_are(crop(image, left_margin), {224, 224, 224}));

  // Captions, row label and title are exactly the font's pixels at their places.
  for (size_t r = 0; r < sheet.rows.size(); ++r)
    for (size_t c = 0; c < sheet.rows[r].tiles.size(); ++c) {
      const Rect& strip = layout.captions[r][c];
      EXPECT_TRUE(crop(image, strip).equal(expected_text_patch({sheet.rows[r].tiles[c].caption}, strip, 1, style)))
          << "caption of row " << r << " tile " << c;
    }
  const Rect label = layout.row_labels[0];
  at::Tensor expected_label = at::full({label.height, label.width, 3}, 255, at::kByte);
  dmx::report::draw_text(expected_label, "row A", 0, 0, 1, style.ink);
  EXPECT_TRUE(crop(image, label).equal(expected_label));
  at::Tensor expected_title = at::full({layout.title.height, layout.title.width, 3}, 255, at::kByte);
  dmx::report::draw_text(expected_title, "Sheet", 0, 0, 2, style.ink);
  EXPECT_TRUE(crop(image, layout.title).equal(expected_title));

  // Between rows (the gap) there is only background.
  const Rect gap_between_rows{0, layout.cells[1][0].y - 4, layout.width, 4};
  EXPECT_TRUE(all_pixels_are(crop(image, gap_between_rows), {255, 255, 255}));
}

TEST(ImageGrid, CaptionsWrapAtSpacesAndNewlines) {
  // 64 px at scale 1 holds 10 characters.
  EXPECT_EQ(dmx::report::wrap_text("s=0.5\ny: 0.29 c3 + 0.71 c7", 64, 1),
            (std::vector<std::string>{"s=0.5", "y: 0.29 c3", "+ 0.71 c7"}));
  EXPECT_EQ(dmx::report::wrap_text("abcdefghijkl", 30, 1), (std::vector<std::string>{"abcde", "fghij", "kl"}));
  EXPECT_EQ(dmx::report::wrap_text("", 30, 1), std::vector<std::string>{});

  // The strip is as tall as the longest caption of the sheet, in every row.
  ContactSheet sheet;
  sheet.rows.push_back({"", {{solid(4, 4, {1, 2, 3}), "one"}, {solid(4, 4, {1, 2, 3}), "one two three four"}}});
  const auto layout = dmx::report::layout_grid(sheet, small_style());  // 32 px: 5 characters a line
  EXPECT_EQ(layout.caption_lines[0][1], (std::vector<std::string>{"one", "two", "three", "four"}));
  EXPECT_EQ(layout.captions[0][0].height, 4 * 8);
}

TEST(ImageGrid, BadImagesAndStylesAreErrors) {
  ContactSheet sheet;
  sheet.rows.push_back({"", {{solid(4, 4, {1, 2, 3}), ""}, {at::zeros({4, 4, 3}, at::kFloat), ""}}});
  try {
    dmx::report::compose_grid(sheet);
    FAIL() << "expected an error";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Shape);
    EXPECT_NE(std::string(error.what()).find("row 0, tile 1"), std::string::npos) << error.what();
  }
  GridStyle style;
  style.cell = 0;
  EXPECT_THROW(dmx::report::layout_grid(sheet, style), dmx::Error);
}

}  // namespace
