// A built-in 5×7 pixel font for labelling images (contact sheets, report figures) without a font file.
//
//   at::Tensor sheet = at::full({40, 200, 3}, 255, at::kByte);
//   dmx::report::draw_text(sheet, "3>7 s=0.7", 4, 4, /*scale=*/2, dmx::report::kBlack);
//
// Every printable ASCII character (' ' to '~') has a glyph; any other byte is drawn as '?'. A character occupies a
// cell of kCellWidth × kCellHeight pixels (the glyph plus one column and one row of spacing), times `scale`, so the
// size of a text is known without drawing it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace dmx::report {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kWhite{255, 255, 255};

inline constexpr int64_t kGlyphWidth = 5;
inline constexpr int64_t kGlyphHeight = 7;
inline constexpr int64_t kCellWidth = kGlyphWidth + 1;
inline constexpr int64_t kCellHeight = kGlyphHeight + 1;

// Whether pixel (x, y) of `c`'s glyph is ink; x in [0, kGlyphWidth), y in [0, kGlyphHeight), (0, 0) at the top left.
// Coordinates outside the glyph are blank.
bool glyph_pixel(char c, int64_t x, int64_t y);

// Pixels a line of `text` takes: text.size() cells wide, one cell high, times `scale`.
int64_t text_width(const std::string& text, int64_t scale = 1);
int64_t text_height(int64_t scale = 1);

// Draws one line of `text` into `image` (uint8 H×W×3, contiguous, modified in place) with the top-left corner of the
// first cell at (x, y); every glyph pixel becomes a scale × scale square of `color`. Pixels that fall outside the
// image are left out, so a long text is clipped rather than an error. A wrong image type or shape is a Shape error.
void draw_text(at::Tensor& image, const std::string& text, int64_t x, int64_t y, int64_t scale, Rgb color);

}  // namespace dmx::report
