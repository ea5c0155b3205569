// `i2v forward` and `i2v backward`: a network on a batch from a .npy file, for checking it
// against other frameworks and for looking inside (any layer's activation, every gradient).
#include <cstdio>

#include "apps/command_inputs.h"
#include "apps/commands.h"
#include "apps/device_options.h"
#include "apps/model_options.h"
#include "base/error.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/losses/cross_entropy.h"
#include "nn/model_config.h"
#include "nn/npy.h"
#include "nn/safetensors.h"
#include "train/inference.h"

namespace i2v::app {
namespace {

struct InspectOptions {
  ModelOptions model;
  std::string weights, input, output, layer;
  DeviceOptions device;
  uint64_t seed = 1;

  void add(CLI::App* cmd) {
    model.add(cmd, /*required=*/false);
    cmd->add_option("--weights", weights, "Weights (safetensors); without them the model is initialised from --seed");
    cmd->add_option("--seed", seed, "Initialisation seed when no --weights are given")->capture_default_str();
    cmd->add_option("--input", input, "A float32 .npy batch [N, C, H, W] (the model's input shape)")->required();
    device.add(cmd);
  }

  // Checks the output (base/command_files.h) against the inputs, and `more` of them.
  void check_files(const std::string& more_option = "", const std::string& more = "") const {
    CommandFiles files;
    files.input("--weights", weights).input("--input", input).input(more_option, more);
    add_model_input(files, "--model", model.model);
    files.output("--output", output);
    files.check();
  }

  // The model, with the weights when given. Every option given is honoured or refused: with
  // --weights, the file's metadata names the model unless --model does (then built with
  // --outputs, --input-size and --width, and the weights must fit it); without --model, the
  // file's model takes --input-size (global pooling takes any size) but has its own width,
  // outputs and weights (--width, --outputs and --seed are refused).
  std::unique_ptr<Model> load(CLI::App* cmd) const {
    const Device target = device.apply();
    if (weights.empty()) {
      auto built = std::make_unique<Model>(build_model(model.config()));
      built->initialize(seed);
      built->to(target);
      return built;
    }
    I2V_CHECK(cmd->count("--seed") == 0, "--seed initialises a model without --weights; {} gives every weight",
              weights);
    return load_trained_model(weights, target, model.choice_for(*cmd, weights)).model;
  }

  Tensor read_input(const Model& m) const {
    Tensor x = read_npy_tensor(input);
    I2V_CHECK(x.dtype() == DType::f32, "{}: expected float32, got {}", input, dtype_name(x.dtype()));
    Shape expected = m.input_shape();
    expected.insert(expected.begin(), x.dim() > 0 ? x.size(0) : 0);
    I2V_CHECK(x.shape() == expected, "{} is {}: model {} takes [N, {}, {}, {}] (use --input-size to change it)", input,
              shape_str(x.shape()), m.name(), m.input_shape()[0], m.input_shape()[1], m.input_shape()[2]);
    return x.to(Device::parse(device.device));
  }
};

void add_forward_command(CLI::App& app) {
  static InspectOptions o;
  CLI::App* cmd = app.add_subcommand("forward", "Run a batch from a .npy file through a network; write the output as .npy");
  o.add(cmd);
  cmd->add_option("-o,--output", o.output, "The .npy to write (float32)")->required();
  cmd->add_option("--layer", o.layer, "Stop at this layer and write its activation (default: the network's output)");
  cmd->footer(
      "The network runs in eval mode (dropout off, BatchNorm on its running statistics).\n\n"
      "Examples:\n"
      "  i2v forward --weights runs/tag/best.safetensors --input x.npy --output y.npy\n"
      "  i2v forward --model i2v-tag --input-size 64 --input x.npy --output conv3.npy --layer relu3_2 --device sim");
  cmd->callback([cmd] {
    o.check_files();
    std::unique_ptr<Model> model = o.load(cmd);
    const Tensor y = model->forward(o.read_input(*model), Mode::eval, o.layer);
    write_npy(o.output, y.to(Device::cpu()));
    std::printf("wrote %s: %s of %s\n", o.output.c_str(), shape_str(y.shape()).c_str(),
                o.layer.empty() ? "the output" : o.layer.c_str());
  });
}

void add_backward_command(CLI::App& app) {
  static InspectOptions o;
  static std::string target, loss_name = "bce";
  CLI::App* cmd = app.add_subcommand("backward", "The loss of a .npy batch and every parameter's gradient (safetensors)");
  o.add(cmd);
  cmd->add_option("--target", target, "Targets (.npy): float32 [N, outputs] of 0/1 for bce, int64 [N] classes for ce")
      ->required();
  cmd->add_option("--loss", loss_name, "bce (sigmoid + binary cross-entropy, mean) or ce (softmax cross-entropy)")
      ->capture_default_str();
  cmd->add_option("-o,--output", o.output, "The safetensors file of gradients (named as the weights)")->required();
  cmd->footer(
      "Runs the network in train mode (dropout on, BatchNorm on batch statistics), the loss, and the\n"
      "backward pass; prints the loss. Gradients are those of the loss as PyTorch defines it\n"
      "(BCEWithLogitsLoss / CrossEntropyLoss with mean reduction).\n\n"
      "Example:\n"
      "  i2v backward --weights w.safetensors --input x.npy --target t.npy --loss bce --output grads.safetensors");
  cmd->callback([cmd] {
    o.check_files("--target", target);
    std::unique_ptr<Model> model = o.load(cmd);
    const Tensor x = o.read_input(*model);
    const Tensor t = read_npy_tensor(target).to(x.device());
    std::unique_ptr<Loss> loss;
    if (loss_name == "bce") loss = std::make_unique<BCEWithLogits>();
    else if (loss_name == "ce") loss = std::make_unique<CrossEntropy>();
    else I2V_THROW("--loss {}: expected bce or ce", loss_name);
    model->zero_grad();
    const Tensor logits = model->forward(x, Mode::train);
    const double value = loss->forward({logits, t}).cast(DType::f64).item<double>({0});
    model->backward(loss->backward());
    Safetensors grads;
    for (auto& [name, p] : model->parameters()) grads.tensors[name] = p->grad;
    grads.metadata["i2v.loss"] = fmt::format("{:.9g}", value);
    save_safetensors(o.output, grads);
    std::printf("loss %.9g (%s); wrote %zu gradients to %s\n", value, loss->describe().c_str(), grads.tensors.size(),
                o.output.c_str());
  });
}

const bool forward_registered = register_command("forward", add_forward_command);
const bool backward_registered = register_command("backward", add_backward_command);

}  // namespace
}  // namespace i2v::app
