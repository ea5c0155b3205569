// Pictures of search results: contact sheets (a query and its neighbours, a morphing path) and
// the t-SNE map of thumbnails (Illustration2Vec Fig. 5). Images are read with data/image.h;
// one that cannot be read becomes a grey tile with a red cross, and its error is reported back,
// so a missing file never stops the picture.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/image.h"

namespace i2v {

// An image path as stored in an index: absolute paths as they are, relative ones under `root`
// (kept relative — to the current directory — when `root` is empty).
std::string resolve_image_path(const std::string& root, std::string_view path);

// `file` scaled to fit size × size (aspect kept, centred on white); on failure the placeholder,
// with the reason appended to `failures`.
Image thumbnail(const std::string& file, int size, std::vector<std::string>& failures);

// The images in rows of `columns`, `thumb` pixels each, 4-pixel gaps; an empty file name leaves
// its tile white (to start each of several sequences on a new row). The tiles listed in
// `highlighted` (indices into files) get a coloured frame (the query; a path's two ends).
Image contact_sheet(const std::vector<std::string>& files, int thumb, int columns, const std::vector<int>& highlighted,
                    std::vector<std::string>& failures);

// The 2-D map `xy` ([n][2]) drawn on a size × size canvas: a dot per point (coloured by
// `labels` when given, one per point), and thumbnails of `files` (when given, one per point)
// snapped to a grid of thumb-sized cells, at most one per cell, the first point (in a seeded
// random order) to land in a cell winning it. Returns how many thumbnails were drawn.
int thumbnail_map(const std::vector<float>& xy, const std::vector<std::string>& files, const std::vector<int64_t>& labels,
                  int size, int thumb, uint64_t seed, Image& canvas, std::vector<std::string>& failures);

// A class activation map (h × w, any range) normalised to [0, 1], upsampled bilinearly to the
// picture and blended over it with `opacity` as a heat ramp: blue (low), cyan, yellow, red (high).
Image class_activation_overlay(const Image& picture, const std::vector<float>& map, int64_t h, int64_t w,
                               float opacity);

// A width × height canvas of one colour.
Image blank(int width, int height, const uint8_t colour[3]);
// A w × h rectangle at (x0, y0) in `colour`, clipped to the image.
void fill_rect(Image& image, int x0, int y0, int w, int h, const uint8_t colour[3]);
// A colour per label (0, 1, 2, ...), spread around the hue circle: neighbours differ.
void label_colour(int64_t label, uint8_t out[3]);

// `text` (ASCII) drawn at (x, y), its top left corner, `scale` pixels per font pixel, in `colour`
// (stb_easy_font's strokes: letters about 6 font pixels wide and 7 high). Returns its width.
int draw_text(Image& canvas, int x, int y, const std::string& text, const uint8_t colour[3], int scale = 1);
// The width draw_text would give `text`, without drawing it.
int text_width(const std::string& text, int scale = 1);

}  // namespace i2v
