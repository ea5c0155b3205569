// Importing the weights of the published Illustration2Vec models (.caffemodel), without Caffe and
// without a protobuf library. Their tag list (tag_list.json) is a vocabulary: data/release_tag_list.h.
//
// A .caffemodel is a caffe.NetParameter in protobuf's wire format. This reader decodes the wire
// format itself and keeps only what a set of weights needs:
//
//   NetParameter      name = 1 (string), layers = 2 (V1LayerParameter, legacy),
//                     layer = 100 (LayerParameter)
//   LayerParameter    name = 1, type = 2 (string: "Convolution", "InnerProduct", ...), blobs = 7
//   V1LayerParameter  name = 4, type = 5 (enum LayerType, mapped to the LayerParameter strings
//                     as Caffe's upgrade_proto does: CONVOLUTION = 4 -> "Convolution",
//                     INNER_PRODUCT = 14 -> "InnerProduct", RELU = 18 -> "ReLU", POOLING = 17
//                     -> "Pooling", ...; the full table is in caffe_model.cpp), blobs = 6
//   BlobProto         shape = 7 (BlobShape: dim = 1, int64, packed or not), legacy num = 1,
//                     channels = 2, height = 3, width = 4, data = 5 (float, packed or not),
//                     double_data = 8 (double, packed or not); diff = 6 and double_diff = 9
//                     (gradients) are skipped
//
// Every other field, of every wire type (varint, 64-bit, length-delimited, groups, 32-bit), is
// skipped. As in Caffe's Blob::FromProto, a blob that sets any of num/channels/height/width has
// the 4-D shape [num, channels, height, width] (0 where unset); otherwise its shape is
// BlobShape's dims. A blob holds its values in `data` or in `double_data` (converted to float),
// and their count must equal the shape's element count.
//
// Malformed input (a truncated varint, a length past the end, a wrong wire type for a known
// field, a count that disagrees with the shape, an absurd size, the very old V0 layer format)
// is refused with an i2v::Error that names the file, the byte offset and the layer when it is
// known. Nothing is allocated from a size the file merely declares: a blob's tensor is allocated
// only once its values are known to be present in the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nn/tensor.h"

namespace i2v {

struct CaffeLayer {
  std::string name;
  std::string type;  // LayerParameter's type string ("Convolution"); V1 enums mapped to it
  // The parameter blobs, each in the shape Caffe stored (f32, cpu, contiguous); empty for layers
  // without parameters (ReLU, Pooling).
  std::vector<Tensor> blobs;
};

struct CaffeNet {
  std::string name;
  std::vector<CaffeLayer> layers;  // in file order, with or without blobs
};

// Parses a serialized NetParameter; `source` names it in error messages (usually the path).
CaffeNet parse_caffe_model(std::string_view bytes, const std::string& source);
// Reads the file once and parses it. Files over protobuf's 2 GiB message limit are refused.
CaffeNet load_caffe_model(const std::string& path);

struct CaffeImportOptions {
  // When true, layers of the file that carry blobs but are not in the model are skipped instead
  // of refused (for example a classifier head the model does not have).
  bool ignore_extra_layers = false;
};

// The net's blobs as the named tensors of a model: blobs[0] of layer L becomes "L.weight" and
// blobs[1] "L.bias". `expected` holds the model's parameter shapes (from its state dict), keyed
// "<layer>.weight" / "<layer>.bias" (a layer name may itself contain dots).
//
// A blob is viewed in its expected shape (no copy: the result shares the net's storage) when
// the element counts are equal and, once leading 1s are dropped from both shapes, either the
// ranks differ or the shapes are equal. So Caffe's legacy 4-D blobs fit ([1, 1, out, in] for an
// InnerProduct weight -> [out, in]; [1, 1, 1, out] for a bias -> [out]), and so does an
// InnerProduct weight [out, C*H*W] for a convolution [out, C, H, W] or the reverse, because
// Caffe's InnerProduct flattens its input in C, H, W order, which is the NCHW flatten; a
// same-rank shape that differs (a transposed [in, out] weight) does not fit.
//
// Refused with one i2v::Error listing every problem: parameters the model expects that the file
// lacks (a missing layer, or a layer without a bias blob), blobs that do not fit their expected
// shape, blobs beyond those the model has (a bias the model lacks, a third blob), file layers
// with blobs that the model does not have (unless options.ignore_extra_layers), expected names
// that end in neither ".weight" nor ".bias", and two file layers with blobs and the same name.
// Layers without blobs are skipped.
std::map<std::string, Tensor> caffe_named_tensors(const CaffeNet& net,
                                                  const std::map<std::string, Shape>& expected,
                                                  const CaffeImportOptions& options = {});

}  // namespace i2v
