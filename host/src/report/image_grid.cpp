// Contact sheets: the layout arithmetic first, then the drawing that follows it.
#include "diffmix/report/image_grid.hpp"

#include <algorithm>
#include <cmath>

#include "diffmix/data/transforms.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::report {
namespace {

// Room between a cell and its caption, and between a row label and its cells, so text never touches an image.
int64_t text_pad(const GridStyle& style) { return 2 * style.font_scale; }

void check_style(const GridStyle& style) {
  if (style.cell < 1 || style.gap < 0 || style.font_scale < 1)
    throw invalid_argument("contact sheet: cell " + std::to_string(style.cell) + " px, gap " +
                           std::to_string(style.gap) + " px, font scale " + std::to_string(style.font_scale) +
                           " (need cell >= 1, gap >= 0, scale >= 1)");
}

// The size of an image scaled until its longer side is `cell` pixels, aspect ratio kept (at least 1 pixel).
std::pair<int64_t, int64_t> fitted_size(int64_t height, int64_t width, int64_t cell) {
  const double scale = static_cast<double>(cell) / static_cast<double>(std::max(height, width));
  const auto fit = [&](int64_t side) {
    return std::clamp<int64_t>(std::llround(static_cast<double>(side) * scale), 1, cell);
  };
  return {fit(height), fit(width)};
}

// Cuts `word` into pieces of at most `max_chars` characters.
void append_cut_word(const std::string& word, size_t max_chars, std::vector<std::string>& lines) {
  for (size_t start = 0; start < word.size(); start += max_chars) lines.push_back(word.substr(start, max_chars));
}

// Wraps one paragraph (no '\n') at spaces.
void wrap_paragraph(const std::string& paragraph, size_t max_chars, std::vector<std::string>& lines) {
  std::string line;
  size_t start = 0;
  while (start <= paragraph.size()) {
    size_t end = paragraph.find(' ', start);
    if (end == std::string::npos) end = paragraph.size();
    const std::string word = paragraph.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (!line.empty() && line.size() + 1 + word.size() <= max_chars) {
      line += ' ' + word;
      continue;
    }
    if (!line.empty()) lines.push_back(line);
    line.clear();
    if (word.size() <= max_chars) {
      line = word;
    } else {
      append_cut_word(word, max_chars, lines);
    }
  }
  if (!line.empty()) lines.push_back(line);
}

// uint8 H×W×C (C = 1 or 3) → uint8 h×w×3, resized bilinearly (antialiased when shrinking).
at::Tensor fit_image(const at::Tensor& image, int64_t height, int64_t width, size_t row, size_t column) {
  if (image.scalar_type() != at::kByte || image.dim() != 3 || (image.size(2) != 1 && image.size(2) != 3))
    throw shape_error("contact sheet: the image of row " + std::to_string(row) + ", tile " + std::to_string(column) +
                      " must be uint8 H×W×1 or H×W×3, got " + c10::str(image.scalar_type()) + " " +
                      c10::str(image.sizes()));
  const at::Tensor rgb = io::convert_channels(image.cpu().contiguous(), 3);
  const at::Tensor resized = data::resize_image(data::to_float_chw(rgb), height, width);
  return resized.mul(255.0).round_().clamp_(0, 255).to(at::kByte).permute({1, 2, 0});
}

void fill(at::Tensor& canvas, const Rect& rect, Rgb color) {
  if (rect.width <= 0 || rect.height <= 0) return;
  at::Tensor area = canvas.slice(0, rect.y, rect.y + rect.height).slice(1, rect.x, rect.x + rect.width);
  area.select(2, 0).fill_(color.r);
  area.select(2, 1).fill_(color.g);
  area.select(2, 2).fill_(color.b);
}

// Lines centred horizontally in `rect`, from its top.
void draw_lines(at::Tensor& canvas, const std::vector<std::string>& lines, const Rect& rect, int64_t scale,
                Rgb color) {
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t x = rect.x + std::max<int64_t>(0, (rect.width - text_width(lines[i], scale)) / 2);
    draw_text(canvas, lines[i], x, rect.y + static_cast<int64_t>(i) * text_height(scale), scale, color);
  }
}

}  // namespace

std::vector<std::string> wrap_text(const std::string& text, int64_t width, int64_t scale) {
  const size_t max_chars = static_cast<size_t>(std::max<int64_t>(1, width / (kCellWidth * std::max<int64_t>(1, scale))));
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    wrap_paragraph(text.substr(start, end - start), max_chars, lines);
    start = end + 1;
  }
  return lines;
}

GridLayout layout_grid(const ContactSheet& sheet, const GridStyle& style) {
  check_style(style);
  const int64_t scale = style.font_scale, gap = style.gap, cell = style.cell, line = text_height(scale);
  GridLayout layout;

  size_t columns = 0, caption_line_count = 0;
  layout.caption_lines.resize(sheet.rows.size());
  for (size_t r = 0; r < sheet.rows.size(); ++r) {
    columns = std::max(columns, sheet.rows[r].tiles.size());
    for (const GridTile& tile : sheet.rows[r].tiles) {
      layout.caption_lines[r].push_back(wrap_text(tile.caption, cell, scale));
      caption_line_count = std::max(caption_line_count, layout.caption_lines[r].back().size());
    }
  }
  const int64_t caption_height = static_cast<int64_t>(caption_line_count) * line;
  const int64_t caption_offset = caption_height > 0 ? text_pad(style) : 0;

  int64_t width = gap + static_cast<int64_t>(columns) * (cell + gap);
  int64_t y = gap;
  if (!sheet.title.empty()) {
    layout.title = {gap, y, text_width(sheet.title, 2 * scale), text_height(2 * scale)};
    width = std::max(width, layout.title.width + 2 * gap);
    y += layout.title.height + gap;
  }
  for (size_t r = 0; r < sheet.rows.size(); ++r) {
    const GridRow& row = sheet.rows[r];
    Rect label{gap, y, text_width(row.label, scale), row.label.empty() ? 0 : line};
    if (!row.label.empty()) {
      width = std::max(width, label.width + 2 * gap);
      y += line + text_pad(style);
    }
    layout.row_labels.push_back(label);
    layout.cells.emplace_back();
    layout.images.emplace_back();
    layout.captions.emplace_back();
    for (size_t c = 0; c < row.tiles.size(); ++c) {
      const Rect cell_rect{gap + static_cast<int64_t>(c) * (cell + gap), y, cell, cell};
      Rect image_rect{cell_rect.x, cell_rect.y, 0, 0};
      if (row.tiles[c].image.defined() && row.tiles[c].image.dim() == 3) {
        const auto [h, w] = fitted_size(row.tiles[c].image.size(0), row.tiles[c].image.size(1), cell);
        image_rect = {cell_rect.x + (cell - w) / 2, cell_rect.y + (cell - h) / 2, w, h};
      }
      layout.cells.back().push_back(cell_rect);
      layout.images.back().push_back(image_rect);
      layout.captions.back().push_back({cell_rect.x, y + cell + caption_offset, cell, caption_height});
    }
    y += cell + caption_offset + caption_height + gap;
  }
  layout.width = std::max<int64_t>(width, 2 * gap + 1);
  layout.height = std::max<int64_t>(y, 2 * gap + 1);
  return layout;
}

at::Tensor compose_grid(const ContactSheet& sheet, const GridStyle& style) {
  const GridLayout layout = layout_grid(sheet, style);
  at::Tensor canvas = at::empty({layout.height, layout.width, 3}, at::kByte);
  fill(canvas, {0, 0, layout.width, layout.height}, style.background);
  draw_text(canvas, sheet.title, layout.title.x, layout.title.y, 2 * style.font_scale, style.ink);
  for (size_t r = 0; r < sheet.rows.size(); ++r) {
    const Rect& label = layout.row_labels[r];
    draw_text(canvas, sheet.rows[r].label, label.x, label.y, style.font_scale, style.ink);
    for (size_t c = 0; c < sheet.rows[r].tiles.size(); ++c) {
      fill(canvas, layout.cells[r][c], style.cell_background);
      const at::Tensor& image = sheet.rows[r].tiles[c].image;
      if (image.defined()) {
        const Rect& at_rect = layout.images[r][c];
        canvas.slice(0, at_rect.y, at_rect.y + at_rect.height)
            .slice(1, at_rect.x, at_rect.x + at_rect.width)
            .copy_(fit_image(image, at_rect.height, at_rect.width, r, c));
      }
      draw_lines(canvas, layout.caption_lines[r][c], layout.captions[r][c], style.font_scale, style.ink);
    }
  }
  return canvas;
}

}  // namespace dmx::report
