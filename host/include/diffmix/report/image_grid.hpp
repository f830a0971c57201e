// Contact sheets: images of any size laid out in rows of square cells, a caption under each, a label above each row
// and a title on top, drawn with the built-in font (bitmap_font.hpp). `diffmix grid` and the reports use it.
//
//   dmx::report::ContactSheet sheet;
//   sheet.title = "diff-mix: heron > wren";
//   sheet.rows.push_back({"7 wren", {{reference, "reference"}, {edited, "s=0.5\ny: 0.29 c3 + 0.71 c7"}}});
//   at::Tensor png_ready = dmx::report::compose_grid(sheet);      // uint8 H×W×3
//
// Layout, top to bottom, every gap `style.gap` pixels wide:
//   gap | title (twice the font scale) | gap | per row: [label line] cells | caption strip | gap
// A cell is style.cell × style.cell; an image is scaled (aspect ratio kept) until its longer side fills the cell and
// is centred in it. Captions wrap at spaces to the cell's width ('\n' forces a break); the caption strip is as tall
// as the longest caption of the sheet, so rows line up. layout_grid() gives every rectangle without drawing, which is
// how callers and tests know where things are.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/report/bitmap_font.hpp"

namespace dmx::report {

struct GridTile {
  at::Tensor image;     // uint8 H×W×C, C = 1 or 3; undefined: an empty cell (only the caption is drawn)
  std::string caption;  // may be empty
};

struct GridRow {
  std::string label;  // drawn on its own line above the row's cells; empty: no line
  std::vector<GridTile> tiles;
};

struct ContactSheet {
  std::string title;  // empty: no title
  std::vector<GridRow> rows;
};

struct GridStyle {
  int64_t cell = 128;       // cell side in pixels
  int64_t gap = 8;          // between cells, rows and around the sheet
  int64_t font_scale = 1;   // labels and captions; the title uses twice this
  Rgb background = kWhite;
  Rgb ink = kBlack;
  Rgb cell_background{224, 224, 224};  // the part of a cell the image does not cover
};

struct Rect {
  int64_t x = 0, y = 0, width = 0, height = 0;
};

struct GridLayout {
  int64_t width = 0, height = 0;                  // of the whole sheet
  Rect title;                                     // height 0 without a title
  std::vector<Rect> row_labels;                   // one per row; height 0 for an empty label
  std::vector<std::vector<Rect>> cells;           // [row][tile]
  std::vector<std::vector<Rect>> images;          // [row][tile]: where the scaled image lies inside its cell
  std::vector<std::vector<Rect>> captions;        // [row][tile]: the caption strip under the cell
  std::vector<std::vector<std::vector<std::string>>> caption_lines;  // [row][tile]: the wrapped caption
};

// The caption's lines as they are drawn: broken at '\n', then wrapped at spaces so that no line is wider than
// `width` pixels at `scale`; a word longer than a line is cut into pieces that fit.
std::vector<std::string> wrap_text(const std::string& text, int64_t width, int64_t scale);

// Where everything goes. A cell or gap below 1 pixel, or a font scale below 1, is an InvalidArgument error.
GridLayout layout_grid(const ContactSheet& sheet, const GridStyle& style = {});

// Draws the sheet: uint8 H×W×3 with H × W = layout_grid(sheet, style)'s height × width. An image that is not uint8
// H×W×1 or H×W×3 is a Shape error naming its row and column.
at::Tensor compose_grid(const ContactSheet& sheet, const GridStyle& style = {});

}  // namespace dmx::report
