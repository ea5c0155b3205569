// A trained model as files other tools load (`i2v export onnx`): the network as ONNX
// (nn/onnx_export.h) with its preprocessing folded into the graph, and its output names beside it.
//
//   OnnxFormat::i2v   `path` (model.onnx) and, when the weights name their outputs,
//                     <path without .onnx>.tags.csv ("index,name,category", category in words).
//                     Input "input": float32 [batch, 3, S, S], RGB, 0-255, the picture resized as
//                     the weights' preprocessing says (squashed to S×S, or the shorter side scaled
//                     and the centre cropped). Output "output": what `i2v forward` writes (logits
//                     for a tagger, the feature for i2v-feature).
//   OnnxFormat::wd    the folder `path` with model.onnx and selected_tags.csv, as the WD taggers
//                     ship (SmilingWolf's), so kohya-ss's tag_images_by_wd14_tagger.py, the WebUI
//                     and ComfyUI WD14 extensions and imgutils load it as one of theirs. Input
//                     "input": float32 [batch, S, S, 3], BGR, 0-255, the picture padded to a white
//                     square and resized to S×S, as those tools prepare it. Output "output":
//                     probabilities (the sigmoid in the graph), reordered as the CSV lists the
//                     tags: ratings (category 9), general (0), characters (4). The WD tools know
//                     only these three categories: copyright and artist tags are listed as 4
//                     (with the character threshold, as `i2v caption` treats them), meta as 0.
//                     Multi-label models with named outputs only.
#pragma once

#include <string>
#include <vector>

#include "nn/onnx_export.h"
#include "train/inference.h"

namespace i2v {

enum class OnnxFormat { i2v, wd };

// The graph's input stage and output for `format` (the preprocessing of `trained` folded in).
OnnxExportOptions onnx_export_options(const TrainedModel& trained, OnnxFormat format);

// The WD category of an output's category name: 9 rating, 4 character/copyright/artist, 0 others.
int wd_category(const std::string& category);

// The files export_onnx writes for `path`: the model first, then the tag list, if any.
std::vector<std::string> onnx_export_files(const std::string& path, OnnxFormat format, bool named_outputs);

// Writes the files above; returns their paths. Throws before writing anything when the model has
// no ONNX form or (wd) is not a tagger.
std::vector<std::string> export_onnx(TrainedModel& trained, const std::string& path, OnnxFormat format);

}  // namespace i2v
