// `import i2v`: i2v's models from Python (Debian's python3 and numpy; pybind11 binds them), with
// the names of the original illustration2vec package, so that its scripts port by changing where
// the model comes from:
//
//   import i2v
//   from PIL import Image
//   tagger = i2v.load("runs/tag/best.safetensors")            # or i2v.make_i2v_with_chainer(...)
//   tagger.estimate_plausible_tags([Image.open("a.png")], threshold=0.25)
//   # [{'general': [('smile', 0.93), ...], 'character': [...], 'copyright': [...], 'rating': [...]}]
//   hasher = i2v.load("runs/feature/best.safetensors")
//   hasher.extract_feature([img])           # encode1, float32 [N, 4096]
//   hasher.extract_binary_feature([img])    # np.packbits(encode1neuron > 0.5), uint8 [N, 512]
//   i2v.CodeStore("all.i2vcodes").search(hasher.extract_binary_feature([img]), k=10)
//
// Pictures: PIL images, numpy arrays [H, W] (grey), [H, W, 3] or [H, W, 4] with values 0-255
// (uint8, or floats rounded), or file paths (decoded by i2v). Transparency is composited on white
// as i2v's decoders do (illustration2vec dropped the alpha channel, which turns the transparent
// parts of a picture into whatever colour they hold, often black), so a picture gets the same
// tags from the module as from `i2v tag`. They are prepared as the weights' preprocessing says (as `i2v tag`
// does) and run in batches with the GIL released. Errors are i2v.Error (a RuntimeError) with
// i2v's message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "data/image.h"
#include "index/code_store.h"
#include "index/hashing.h"
#include "index/knn.h"
#include "train/captions.h"
#include "train/inference.h"
#include "train/tagging.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace i2v::python {
namespace {

// A picture from Python as i2v's 8-bit RGB image (the GIL held).
Image to_image(const py::handle& picture) {
  if (py::isinstance<py::str>(picture)) return load_image(picture.cast<std::string>());
  py::object object = py::reinterpret_borrow<py::object>(picture);
  if (py::hasattr(object, "convert") && py::hasattr(object, "mode")) {  // PIL: keep the alpha to composite below
    const std::string mode = object.attr("mode").cast<std::string>();
    const bool alpha = mode.find('A') != std::string::npos || object.attr("info").contains("transparency");
    object = object.attr("convert")(alpha ? "RGBA" : "RGB");
  }
  const auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(object);
  I2V_CHECK(array, "a picture is a PIL image, a numpy array or a file path, not {}",
            py::str(py::type::of(picture)).cast<std::string>());
  const bool grey = array.ndim() == 2;
  I2V_CHECK(grey || (array.ndim() == 3 && (array.shape(2) == 3 || array.shape(2) == 4)),
            "a picture array is [H, W], [H, W, 3] or [H, W, 4], not of {} dimensions{}", array.ndim(),
            array.ndim() == 3 ? fmt::format(" with {} channels", array.shape(2)) : "");
  I2V_CHECK(array.shape(0) > 0 && array.shape(1) > 0, "an empty picture ({} x {})", array.shape(1), array.shape(0));
  Image image;
  image.height = int(array.shape(0));
  image.width = int(array.shape(1));
  image.rgb.resize(size_t(image.width) * size_t(image.height) * 3);
  const int64_t channels = grey ? 1 : array.shape(2);
  const float* values = array.data();
  auto byte = [&](int64_t index) {
    I2V_CHECK(std::isfinite(values[index]), "a picture holds a value that is not a number");
    return unsigned(std::lround(std::clamp(values[index], 0.0f, 255.0f)));
  };
  for (int64_t p = 0; p < int64_t(image.width) * image.height; ++p)
    for (int c = 0; c < 3; ++c) {
      const unsigned value = byte(p * channels + (grey ? 0 : c));
      image.rgb[size_t(p) * 3 + size_t(c)] =
          channels == 4 ? composite_on_white(value, byte(p * channels + 3)) : uint8_t(value);
    }
  return image;
}

std::vector<Image> to_images(const py::iterable& pictures) {
  I2V_CHECK(!py::isinstance<py::str>(pictures), "pictures are a list (of PIL images, arrays or paths), not one path");
  std::vector<Image> images;
  for (const py::handle& picture : pictures) images.push_back(to_image(picture));
  return images;
}

py::array_t<float> to_numpy(const Tensor& tensor) {
  const Tensor host = tensor.to(Device::cpu()).contiguous();
  py::array_t<float> array(std::vector<py::ssize_t>(host.shape().begin(), host.shape().end()));
  std::copy_n(host.data<float>(), host.numel(), array.mutable_data());
  return array;
}

py::dict to_dict(const PlausibleTags& tags) {
  py::dict result;
  result["general"] = tags.general;
  result["character"] = tags.character;
  result["copyright"] = tags.copyright;
  result["rating"] = tags.rating;
  return result;
}

// A trained model (train/inference.h) and what illustration2vec's objects do with it.
class PyModel {
 public:
  PyModel(const std::string& weights, const std::string& device, const std::string& model, int64_t batch_size)
      : device_(Device::parse(device)), batch_size_(batch_size) {
    I2V_CHECK(batch_size >= 1, "batch_size {}: at least 1", batch_size);
    I2V_CHECK(weights.size() < 11 || weights.substr(weights.size() - 11) != ".caffemodel",
              "{}: convert the Caffe model first: i2v weights import-caffe {} --model i2v-tag --tag-list tag_list.json "
              "-o i2v-tag.safetensors (or --model i2v-feature)", weights, weights);
    ModelChoice choice;
    choice.model = model;
    trained_ = load_trained_model(weights, device_, choice);
  }

  // `layer`'s activations for the pictures ("": the output), [N, ...] on the cpu.
  Tensor activations(const py::iterable& pictures, const std::string& layer) {
    const std::vector<Image> images = to_images(pictures);
    const std::string until = layer.empty() ? "" : resolve_layer_name(*trained_.model, layer);
    py::gil_scoped_release unlocked;
    const Preprocess& pre = trained_.preprocess;
    const int64_t n = int64_t(images.size()), plane = 3 * int64_t(pre.size) * pre.size;
    I2V_CHECK(n > 0, "no pictures given");
    Tensor all;  // [n, ...], shaped by the first batch's output
    for (int64_t first = 0; first < n; first += batch_size_) {
      const int64_t count = std::min(batch_size_, n - first);
      Tensor batch = Tensor::empty({count, 3, pre.size, pre.size});
      for (int64_t i = 0; i < count; ++i) pre.picture_to_chw(images[size_t(first + i)], batch.data<float>() + i * plane);
      const Tensor out = trained_.model->forward(batch.to(device_), Mode::eval, until).to(Device::cpu()).contiguous();
      if (!all.defined()) {
        Shape shape = out.shape();
        shape[0] = n;
        all = Tensor::empty(shape);
      }
      std::copy_n(out.data<float>(), out.numel(), all.data<float>() + first * (out.numel() / count));
    }
    return all;
  }

  // The tagger's probabilities, one row per picture.
  std::vector<std::vector<float>> probabilities(const py::iterable& pictures) {
    I2V_CHECK(trained_.multi_label && !trained_.outputs.empty(),
              "{} is not a tagger (a multi-label model whose weights name their outputs)", trained_.model->name());
    const Tensor logits = activations(pictures, "");
    const std::vector<float> values = logits.to_vector<float>();
    const size_t outputs = trained_.outputs.size();
    std::vector<std::vector<float>> rows;
    for (int64_t i = 0; i < logits.size(0); ++i) rows.push_back(tag_probabilities(&values[size_t(i) * outputs], outputs));
    return rows;
  }

  py::list estimate_plausible_tags(const py::iterable& pictures, float threshold) {
    py::list result;
    for (const auto& row : probabilities(pictures))
      result.append(to_dict(i2v::estimate_plausible_tags(row.data(), trained_.outputs, threshold)));
    return result;
  }

  py::list estimate_top_tags(const py::iterable& pictures, int n_tag) {
    I2V_CHECK(n_tag >= 1, "n_tag {}: at least 1", n_tag);
    py::list result;
    for (const auto& row : probabilities(pictures))
      result.append(to_dict(i2v::estimate_plausible_tags(row.data(), trained_.outputs, 0.0f, n_tag)));
    return result;
  }

  py::list estimate_specific_tags(const py::iterable& pictures, const std::vector<std::string>& tags) {
    std::vector<size_t> indices;
    for (const std::string& tag : tags) {
      const std::string wanted = normalised_tag(tag);
      auto found = std::find_if(trained_.outputs.begin(), trained_.outputs.end(),
                                [&](const ModelOutput& output) { return normalised_tag(output.name) == wanted; });
      I2V_CHECK(found != trained_.outputs.end(), "the tagger has no tag '{}'", tag);
      indices.push_back(size_t(found - trained_.outputs.begin()));
    }
    py::list result;
    for (const auto& row : probabilities(pictures)) {
      py::dict entry;
      for (size_t t = 0; t < tags.size(); ++t) entry[py::str(tags[t])] = row[indices[t]];
      result.append(entry);
    }
    return result;
  }

  std::vector<std::string> caption(const py::iterable& pictures, const CaptionOptions& options) {
    std::vector<std::string> captions;
    for (const auto& row : probabilities(pictures))
      captions.push_back(fmt::format("{}", fmt::join(caption_tags(row.data(), trained_.outputs, options), options.separator)));
    return captions;
  }

  py::array_t<uint8_t> extract_binary_feature(const py::iterable& pictures, const std::string& layer) {
    const Tensor activation = activations(pictures, layer);
    I2V_CHECK(activation.dim() == 2 && activation.size(1) % 8 == 0,
              "layer {} gives {}: a binary feature needs [N, bits] with bits a multiple of 8", layer,
              shape_str(activation.shape()));
    const std::vector<uint8_t> packed = pack_signs(activation);
    py::array_t<uint8_t> array({activation.size(0), activation.size(1) / 8});
    std::copy(packed.begin(), packed.end(), array.mutable_data());
    return array;
  }

  std::vector<std::string> tags() const {
    std::vector<std::string> names;
    for (const ModelOutput& output : trained_.outputs) names.push_back(output.name);
    return names;
  }
  std::vector<std::string> layers() const {
    std::vector<std::string> names;
    for (const ModelNode& node : trained_.model->nodes()) names.push_back(node.name);
    return names;
  }

 private:
  Device device_;
  int64_t batch_size_;
  TrainedModel trained_;
};

// A code store (index/code_store.h) and exact Hamming k-NN over it.
class PyCodeStore {
 public:
  explicit PyCodeStore(const std::string& path) : store_(CodeStore::open(path)) {}

  // The k nearest codes of the store to each query row (packed as the store's, uint8
  // [N, bits/8]): (ids [N, k] int64, distances [N, k] int32), nearest first.
  py::tuple search(py::array_t<uint8_t, py::array::c_style | py::array::forcecast> queries, int k,
                   const std::string& device) {
    const int64_t row_bytes = store_.bits() / 8;
    I2V_CHECK(queries.ndim() == 2 && queries.shape(1) == row_bytes,
              "queries are [N, {}] packed codes of {} bits (the store's), not of shape {}", row_bytes, store_.bits(),
              shape_str(Shape(queries.shape(), queries.shape() + queries.ndim())));
    I2V_CHECK(k >= 1 && k <= store_.size(), "k {}: 1 to the store's {} codes", k, store_.size());
    const int64_t n = queries.shape(0);
    // Packed bytes read little-endian as 64-bit words: the store's in-memory order.
    std::vector<uint64_t> words(size_t(n) * size_t(store_.words()));
    std::memcpy(words.data(), queries.data(), size_t(n * row_bytes));
    KnnLists lists;
    {
      py::gil_scoped_release unlocked;
      lists = knn(store_.codes(), CodeView{words.data(), n, store_.words()}, k, Device::parse(device));
    }
    py::array_t<int64_t> ids({n, int64_t(k)});
    py::array_t<int32_t> distances({n, int64_t(k)});
    for (int64_t i = 0; i < n * k; ++i) {
      ids.mutable_data()[i] = store_.id(lists.rows[size_t(i)]);
      distances.mutable_data()[i] = lists.distances[size_t(i)];
    }
    return py::make_tuple(ids, distances);
  }

  int64_t size() const { return store_.size(); }
  int bits() const { return store_.bits(); }
  py::array_t<int64_t> ids() const {
    py::array_t<int64_t> array(store_.size());
    for (int64_t row = 0; row < store_.size(); ++row) array.mutable_data()[row] = store_.id(row);
    return array;
  }
  // The picture path of the item with this id, as it opens from the current directory ("" when
  // the store keeps no paths).
  std::string path(int64_t id) const {
    const std::optional<int64_t> row = store_.find_id(id);
    I2V_CHECK(row.has_value(), "{}: no item with id {}", store_.path(), id);
    return store_.image_file(*row);
  }

 private:
  CodeStore store_;
};

}  // namespace
}  // namespace i2v::python

PYBIND11_MODULE(i2v, m) {
  using namespace i2v::python;
  m.doc() = "i2v's models from Python: tagging, captions, features, binary codes and their search";
  py::register_exception<i2v::Error>(m, "Error", PyExc_RuntimeError);

  py::class_<PyModel>(m, "Model", "A trained model loaded from its weights file (i2v train's best.safetensors)")
      .def(py::init<const std::string&, const std::string&, const std::string&, int64_t>(), "weights"_a,
           "device"_a = "cpu", "model"_a = "", "batch_size"_a = 32)
      .def_property_readonly("tags", &PyModel::tags, "The output names, in the model's order")
      .def_property_readonly("layers", &PyModel::layers, "The layer names, in order")
      .def("estimate_plausible_tags", &PyModel::estimate_plausible_tags, "images"_a, "threshold"_a = 0.25f,
           "Per picture: {'general', 'character', 'copyright': [(tag, p)] with p >= threshold, most probable first; "
           "'rating': every rating}")
      .def("estimate_top_tags", &PyModel::estimate_top_tags, "images"_a, "n_tag"_a = 10,
           "Per picture: the n_tag most probable tags of each category, and every rating")
      .def("estimate_specific_tags", &PyModel::estimate_specific_tags, "images"_a, "tags"_a,
           "Per picture: {tag: probability} for the given tags")
      .def(
          "caption",
          [](PyModel& model, const py::iterable& images, float general_threshold, float character_threshold, bool mcut,
             int top_k, const std::vector<std::string>& exclude, const std::vector<std::string>& keep_first,
             bool replace_underscores, bool character_first, bool rating, const std::string& separator) {
            i2v::CaptionOptions options;
            options.general_threshold = general_threshold;
            options.character_threshold = character_threshold;
            options.mcut = mcut;
            options.top_k = top_k;
            for (const std::string& tag : exclude) options.exclude.insert(i2v::normalised_tag(tag));
            options.keep_first = keep_first;
            options.replace_underscores = replace_underscores;
            options.character_first = character_first;
            options.rating = rating;
            options.separator = separator;
            return model.caption(images, options);
          },
          "images"_a, "general_threshold"_a = 0.35f, "character_threshold"_a = 0.85f, "mcut"_a = false, "top_k"_a = 0,
          "exclude"_a = std::vector<std::string>{}, "keep_first"_a = std::vector<std::string>{},
          "replace_underscores"_a = false, "character_first"_a = false, "rating"_a = false, "separator"_a = ", ",
          "Per picture: the caption line `i2v caption` writes with the same options")
      .def(
          "extract_feature",
          [](PyModel& model, const py::iterable& images, const std::string& layer) {
            return to_numpy(model.activations(images, layer));
          },
          "images"_a, "layer"_a = "encode1", "A layer's activations, float32 [N, ...] (i2v-feature's encode1 by default)")
      .def("extract_binary_feature", &PyModel::extract_binary_feature, "images"_a, "layer"_a = "encode1",
           "np.packbits(layer > 0): for encode1, the 4,096-bit code (encode1neuron > 0.5), uint8 [N, 512]")
      .def(
          "forward",
          [](PyModel& model, const py::iterable& images) { return to_numpy(model.activations(images, "")); },
          "images"_a, "The network's output for the pictures (a tagger's logits), float32");

  m.def("load", [](const std::string& weights, const std::string& device, const std::string& model, int64_t batch_size) {
    return PyModel(weights, device, model, batch_size);
  }, "weights"_a, "device"_a = "cpu", "model"_a = "", "batch_size"_a = 32,
     "A trained model from its weights file; `model` names one for weights that do not record theirs");
  // illustration2vec's constructors: the tag list is in the weights (i2v weights import-caffe --tag-list).
  for (const char* name : {"make_i2v_with_chainer", "make_i2v_with_caffe"})
    m.def(name, [](const std::string& weights, py::object /*tag_list*/) { return PyModel(weights, "cpu", "", 32); },
          "weights"_a, "tag_list"_a = py::none(),
          "illustration2vec's name for load(): weights converted by `i2v weights import-caffe` (which takes the "
          "tag list), or trained by i2v");

  py::class_<PyCodeStore>(m, "CodeStore", "A code store written by `i2v hash` or `i2v index build`")
      .def(py::init<const std::string&>(), "path"_a)
      .def("__len__", &PyCodeStore::size)
      .def_property_readonly("bits", &PyCodeStore::bits)
      .def_property_readonly("ids", &PyCodeStore::ids)
      .def("path", &PyCodeStore::path, "id"_a, "The picture of the item with this id")
      .def("search", &PyCodeStore::search, "codes"_a, "k"_a = 10, "device"_a = "cpu",
           "The k nearest items to each packed code: (ids [N, k], Hamming distances [N, k]), nearest first");
}
