// The built-in font: known glyph patterns, how draw_text scales, spaces and clips them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "diffmix/error.hpp"
#include "diffmix/report/bitmap_font.hpp"

namespace {

using dmx::report::glyph_pixel;

// The glyph as seven strings of five characters, '#' for ink.
std::vector<std::string> glyph_rows(char c) {
  std::vector<std::string> rows;
  for (int64_t y = 0; y < dmx::report::kGlyphHeight; ++y) {
    std::string row;
    for (int64_t x = 0; x < dmx::report::kGlyphWidth; ++x) row += glyph_pixel(c, x, y) ? '#' : '.';
    rows.push_back(row);
  }
  return rows;
}

TEST(BitmapFont, KnownGlyphsHaveTheirPatterns) {
  EXPECT_EQ(glyph_rows('T'), (std::vector<std::string>{"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}));
  EXPECT_EQ(glyph_rows('L'), (std::vector<std::string>{"#....", "#....", "#....", "#....", "#....", "#....", "#####"}));
  EXPECT_EQ(glyph_rows('1'), (std::vector<std::string>{"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}));
  EXPECT_EQ(glyph_rows('='), (std::vector<std::string>{".....", ".....", "#####", ".....", "#####", ".....", "....."}));
  EXPECT_EQ(glyph_rows(' '), std::vector<std::string>(7, "....."));
}

TEST(BitmapFont, EveryPrintableCharacterButSpaceHasInk) {
  for (char c = '!'; c <= '~'; ++c) {
    bool ink = false;
    for (int64_t y = 0; y < dmx::report::kGlyphHeight; ++y)
      for (int64_t x = 0; x < dmx::report::kGlyphWidth; ++x) ink = ink || glyph_pixel(c, x, y);
    EXPECT_TRUE(ink) << "'" << c << "'";
  }
}

TEST(BitmapFont, OtherBytesAreDrawnAsAQuestionMark) {
  EXPECT_EQ(glyph_rows('\t'), glyph_rows('?'));
  EXPECT_EQ(glyph_rows(static_cast<char>(0xE2)), glyph_rows('?'));
  EXPECT_FALSE(glyph_pixel('T', 5, 0));  // outside the glyph
  EXPECT_FALSE(glyph_pixel('T', 0, -1));
}

TEST(BitmapFont, DrawTextScalesEveryGlyphPixelIntoASquare) {
  at::Tensor canvas = at::zeros({30, 40, 3}, at::kByte);
  const dmx::report::Rgb red{255, 0, 0};
  dmx::report::draw_text(canvas, "TL", 3, 5, 2, red);
  EXPECT_EQ(dmx::report::text_width("TL", 2), 24);
  EXPECT_EQ(dmx::report::text_height(2), 16);
  for (int64_t y = 0; y < 30; ++y)
    for (int64_t x = 0; x < 40; ++x) {
      // Which character cell and glyph pixel (x, y) falls in, if any.
      const int64_t cx = (x - 3) / 2, cy = (y - 5) / 2;
      const bool inside = x >= 3 && y >= 5 && cx < 12 && cy < 8;
      const char c = cx < 6 ? 'T' : 'L';
      const bool ink = inside && glyph_pixel(c, cx % 6, cy);
      const auto pixel = canvas[y][x];
      EXPECT_EQ(pixel[0].item<int>(), ink ? 255 : 0) << "x " << x << " y " << y;
      EXPECT_EQ(pixel[1].item<int>(), 0);
    }
}

TEST(BitmapFont, TextOutsideTheImageIsClipped) {
  at::Tensor canvas = at::zeros({6, 6, 3}, at::kByte);
  dmx::report::draw_text(canvas, "TTTT", -3, -2, 1, dmx::report::kWhite);
  // Cells start at x = -3, 3, 9, ...; glyph rows at y = -2 ... 4. The first 'T' has its bar at y = -2 and its stem
  // at x = -1, both outside. The second 'T' shows only its stem (x = 5, rows 1 to 6 → y = -1 to 4).
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 6; ++x) {
      const bool ink = x == 5 && y <= 4;
      EXPECT_EQ(canvas[y][x][0].item<int>(), ink ? 255 : 0) << "x " << x << " y " << y;
    }
}

TEST(BitmapFont, AWrongCanvasIsAShapeError) {
  at::Tensor gray = at::zeros({8, 8, 1}, at::kByte);
  try {
    dmx::report::draw_text(gray, "a", 0, 0, 1, dmx::report::kBlack);
    FAIL() << "expected an error";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Shape);
  }
  at::Tensor floats = at::zeros({8, 8, 3}, at::kFloat);
  EXPECT_THROW(dmx::report::draw_text(floats, "a", 0, 0, 1, dmx::report::kBlack), dmx::Error);
}

}  // namespace
