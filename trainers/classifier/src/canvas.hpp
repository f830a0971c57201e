// A small RGB raster for the report's charts: rectangles, lines and text in a built-in 5×7 pixel font, so that a
// PNG chart needs no plotting library.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dmx::classifier {

using Rgb = std::array<uint8_t, 3>;

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }

  void fill_rect(int x0, int y0, int x1, int y1, Rgb color);  // inclusive corners, clipped to the canvas
  void line(int x0, int y0, int x1, int y1, Rgb color, int thickness = 1);
  // Text with its top-left corner at (x, y); each glyph is 5×7 pixels times `scale`, with one column of spacing.
  // Lower-case letters are drawn as capitals; characters without a glyph as '?'.
  void text(int x, int y, const std::string& text, Rgb color, int scale = 1);
  static int text_width(const std::string& text, int scale = 1);

  // uint8 H×W×3, ready for io::write_image.
  at::Tensor image() const;

 private:
  void set(int x, int y, Rgb color);
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

// Distinguishable colours for series i = 0, 1, 2, ...
Rgb series_color(size_t index);

}  // namespace dmx::classifier
