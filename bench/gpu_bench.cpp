// i2v on a GPU beside NVIDIA's own libraries, in one run: every convolution of the i2v-tag
// network, three GEMMs, and the whole training step and inference, each in fp32, tf32 and bf16
// (kernels/precision.h), with cuDNN and cuBLAS on the same shapes as the peers.
//
//   gpu_bench [--device cuda|sim] [--image 224] [--batch 64] [--repetitions 5] [--warmup 1]
//             [--layers conv3_2,conv5_1] [--parts convs,gemms,steps] [--budget 100] [--json]
//
// Convolutions: each conv layer of i2v-tag (conv1_1 .. conv5_2 and conv6_1 .. conv6_4, read from
// the zoo with their input shapes at --image and --batch), our Conv2d forward (train mode) and
// backward (weight, bias and input gradient; the first layer without the input gradient, as in
// training). cuDNN runs the same NCHW float convolution: forward = ConvolutionForward + AddTensor
// (the bias), backward = BackwardData + BackwardFilter + BackwardBias, as PyTorch calls them.
// Its fp32 peer has CUDNN_FMA_MATH on the convolution descriptor (FMA kernels only, no tensor
// cores); its tf32 peer CUDNN_DEFAULT_MATH (on Ampere and later: tensor cores with TF32 allowed
// for float data). Each pass gets cuDNN's fastest algorithm for that math type, measured by
// cudnnFind*AlgorithmEx on the real buffers with a workspace as large as the largest any
// algorithm asks for (capped at --workspace-mib); the descriptor then takes the math type the
// chosen algorithm ran with, as PyTorch does. TFLOP/s counts a direct convolution's 2·MACs per
// pass (backward: data + filter; the bias is not counted), whatever the algorithm does: cuDNN's
// Winograd and FFT algorithms multiply less, so its fp32 may pass the FMA peak (67 TFLOP/s on an
// H100 or H200). On an H200 its FMA peer chose WINOGRAD_NONFUSED for most layers (85-150
// "TFLOP/s"), its default-math peer IMPLICIT_PRECOMP_GEMM and ALGO_1 with TF32.
// Correctness: our output and gradients (y, dx, dw, db) at each precision, and cuDNN's at tf32,
// against cuDNN's fp32 ones: ‖a − b‖ / ‖b‖ (on the sim device against our CPU Conv2d instead).
// fp32 should agree to ~1e-6 (dw, a sum over the whole batch, to ~1e-5), tf32 to ~1e-3 (cuDNN's
// TF32 on an H200: 3e-4 to 9e-4), bf16 to ~5e-3; a gap over 1e-3 (fp32), 3e-2 (tf32) or 6e-2
// (bf16) prints an "error:" line and the exit status is 2. cuDNN has no bf16 arithmetic on fp32
// data, so our bf16 convolutions have no cuDNN peer here (PyTorch's bf16 autocast is the peer of
// the whole step: bench/train_step_vs_torch.py --device cuda). Any other error in one measurement is printed ("error: ...") and
// the run goes on to the next.
//
// GEMMs, our row-major gemm (kernels/gemm.h) against cuBLAS computing the same product (cuBLAS is
// column-major: C = A·B is computed as Cᵀ = Bᵀ·Aᵀ, which is the same memory): a square one
// (--square, 4096), conv3_2's forward over four images as one GEMM (256 × 2304 × 12,544 at 224)
// and vgg11-fc's fc6 at --batch (64 × 25,088 × 4,096, B transposed). cuBLAS's fp32 is
// cublasGemmEx with CUBLAS_COMPUTE_32F in CUBLAS_DEFAULT_MATH (no TF32: what PyTorch runs with
// allow_tf32 off); CUBLAS_COMPUTE_32F_PEDANTIC is timed too and is the reference the errors are
// measured against; tf32 is CUBLAS_COMPUTE_32F_FAST_TF32 and bf16 CUBLAS_COMPUTE_32F_FAST_16BF
// (fp32 data, products of operands rounded to bf16, fp32 sums: our bf16).
//
// Steps: the i2v-tag training step of bench/train_step.h (forward, BCE, backward, SGD) and
// inference (eval-mode forward), ms and images per second. The steps train on one batch, fp32
// first, so the loss printed is the last step's, lower each time.
//
// Timing: a median of --repetitions calls after --warmup. On cuda, CUDA events recorded on the
// default stream just before and after each call (our kernels, cuDNN and cuBLAS all run on that
// stream, so host gaps between launches count, as in training); on sim, the wall clock around
// each call after synchronising. On sim (small sizes only: the emulator is slow) the peers are
// skipped with a note; it exists to run this program's own code paths.
// The run stops starting new measurements after --budget seconds and prints what it has (a
// caller gives it a fixed time). Detail lines come as each layer finishes; the summary at the end
// is the part with "TFLOP/s", "vs cuDNN", "vs cuBLAS" and "img/s" in every line (what
// ../shared/gpu/check.sh collects).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "bench/bench_util.h"
#include "bench/train_step.h"
#include "kernels/axpy.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/precision.h"
#include "nn/layers/conv2d.h"
#include "nn/losses/bce_with_logits.h"
#include "nn/model_config.h"
#include "train/sgd.h"

namespace i2v {
namespace {

using nlohmann::json;

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();  // a time not measured
constexpr double kAbsent = -1;  // an error not measured (no such tensor); NaN is a result that is not a number
constexpr Precision kPrecisions[] = {Precision::fp32, Precision::tf32, Precision::bf16};
constexpr int kPrecisionCount = 3;
// The largest gap from the reference that still counts as agreeing, per precision.
constexpr double kAgreement[kPrecisionCount] = {1e-3, 3e-2, 6e-2};
// The cuDNN convolution peers: fp32 (FMA math) and tf32 (default math); none for bf16.
constexpr int kCudnnPeers = 2;

// Where the text goes: stdout, or stderr when --json keeps stdout for the JSON object.
std::FILE* g_text = stdout;

template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(g_text, format, std::forward<Args>(args)...);
  std::fflush(g_text);
}

// ---- status checks: every CUDA, cuDNN and cuBLAS call, with the call's text in the error ------

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess)
    throw_error(file, line, call,
                fmt::format("CUDA error {}: {}", cudaGetErrorName(status), cudaGetErrorString(status)));
}

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  char detail[1024] = "";
  cudnnGetLastErrorString(detail, sizeof detail);
  throw_error(file, line, call, fmt::format("cuDNN error {}: {}", cudnnGetErrorString(status), detail));
}

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw_error(file, line, call,
                fmt::format("cuBLAS error {}: {}", cublasGetStatusName(status), cublasGetStatusString(status)));
}

#define CHECK_CUDA(call) check_cuda((call), #call, __FILE__, __LINE__)
#define CHECK_CUDNN(call) check_cudnn((call), #call, __FILE__, __LINE__)
#define CHECK_CUBLAS(call) check_cublas((call), #call, __FILE__, __LINE__)

// ---- settings, time budget, timer ------------------------------------------------------------

struct Settings {
  Device device = Device::cuda();
  int64_t image = 224, batch = 64, square = 4096;
  int repetitions = 5, warmup = 1;
  std::set<std::string> layers;  // empty: all
  std::set<std::string> parts;
  double budget_s = 100;
  size_t workspace_bytes = size_t(4) << 30;
  bool json = false;
  bool peers() const { return device == Device::cuda(); }
};

// Wall-clock seconds since the start, against --budget.
class Budget {
 public:
  explicit Budget(double seconds) : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  double elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  // True (and says so once, naming what is skipped) when the budget is spent.
  bool spent(const std::string& what) {
    if (elapsed_s() < seconds_) return false;
    say("skipped (time budget of {:.0f} s spent): {}\n", seconds_, what);
    return true;
  }

 private:
  double seconds_;
  std::chrono::steady_clock::time_point start_;
};

// The median milliseconds of --repetitions calls of a function after --warmup calls (see the
// header: CUDA events on cuda, the wall clock after synchronising on sim).
class Timer {
 public:
  Timer(Device device, int warmup, int repetitions) : device_(device), warmup_(warmup), repetitions_(repetitions) {
    if (device_ == Device::cuda()) {
      CHECK_CUDA(cudaEventCreate(&start_));
      CHECK_CUDA(cudaEventCreate(&stop_));
    }
  }
  ~Timer() {
    if (start_) cudaEventDestroy(start_);
    if (stop_) cudaEventDestroy(stop_);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  double median_ms(const std::function<void()>& run) const {
    for (int i = 0; i < warmup_; ++i) run();
    synchronize(device_);
    std::vector<double> times;
    for (int i = 0; i < repetitions_; ++i) {
      if (start_) {
        CHECK_CUDA(cudaEventRecord(start_, 0));
        run();
        CHECK_CUDA(cudaEventRecord(stop_, 0));
        CHECK_CUDA(cudaEventSynchronize(stop_));
        float ms = 0;
        CHECK_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
        times.push_back(ms);
      } else {
        const auto start = std::chrono::steady_clock::now();
        run();
        synchronize(device_);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      }
    }
    return bench::median(times);
  }
  const char* method() const { return start_ ? "CUDA events on the default stream" : "wall clock after synchronising"; }

 private:
  Device device_;
  int warmup_, repetitions_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// ---- comparing results on the device -----------------------------------------------------------

double sum_of_squares(const Tensor& x) {
  Tensor out = Tensor::empty({1}, DType::f32, x.device());
  I2V_DISPATCH_FLOATING(x.device(), DType::f32, sum_of_squares, x.data<scalar_t>(), x.numel(), out.data<scalar_t>());
  return out.item<float>({0});
}

// ‖a − b‖ / ‖b‖ over all elements (float tensors of one shape on one device).
double relative_error(const Tensor& a, const Tensor& b) {
  I2V_CHECK(a.shape() == b.shape() && a.device() == b.device(), "comparing {} with {}", a.str(0), b.str(0));
  Tensor diff = a.contiguous().clone();
  const Tensor reference = b.contiguous();
  I2V_DISPATCH_FLOATING(diff.device(), DType::f32, axpy, diff.numel(), scalar_t(-1), reference.data<scalar_t>(),
                        diff.data<scalar_t>());
  return std::sqrt(sum_of_squares(diff) / sum_of_squares(reference));
}

// ---- the conv layers of the model ----------------------------------------------------------------

struct ConvLayer {
  std::string name;
  Conv2d* conv;
  Shape input, output;  // NCHW, batch first
  int64_t kernel, stride, padding;
  bool input_grad;  // false when nothing upstream trains (the first layer): training skips it

  double macs() const { return double(shape_numel(output)) * double(input[1] * kernel * kernel); }
  double forward_flops() const { return 2 * macs(); }
  double backward_flops() const { return 2 * macs() * (input_grad ? 2 : 1); }
};

// A conv field of the config: a number, or [h, w] with h == w.
int64_t square_field(const json& layer, const char* field, int64_t fallback) {
  if (!layer.contains(field)) return fallback;
  const json& value = layer[field];
  if (value.is_number_integer()) return value.get<int64_t>();
  I2V_CHECK(value.is_array() && value.size() == 2 && value[0] == value[1],
            "layer {}: gpu_bench takes square convolutions only, not {} {}", layer.value("name", "?"), field,
            value.dump());
  return value[0].get<int64_t>();
}

// Every conv2d layer of `model` (built from `config`), with its shapes for a batch of `batch`.
// Requires a chain of layers (each reads the one before it), as i2v-tag is.
std::vector<ConvLayer> conv_layers(Model& model, const json& config, int64_t batch) {
  const std::vector<LayerSummary> summary = model.summary(batch);
  const std::vector<ModelNode>& nodes = model.nodes();
  const json& layers = config.at("layers");
  Shape input = model.input_shape();
  input.insert(input.begin(), batch);
  bool trained_upstream = false;
  std::vector<ConvLayer> convs;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string previous = i == 0 ? Model::kInput : nodes[i - 1].name;
    I2V_CHECK(nodes[i].inputs == std::vector<std::string>{previous}, "gpu_bench needs a chain of layers; {} reads {}",
              nodes[i].name, fmt::join(nodes[i].inputs, ", "));
    I2V_CHECK(layers.at(i).at("name") == nodes[i].name, "config layer {} is not node {}", layers.at(i).dump(),
              nodes[i].name);
    if (auto* conv = dynamic_cast<Conv2d*>(nodes[i].layer.get())) {
      convs.push_back({nodes[i].name, conv, input, summary[i].output_shape, square_field(layers[i], "kernel", 1),
                       square_field(layers[i], "stride", 1), square_field(layers[i], "padding", 0), trained_upstream});
    }
    if (!nodes[i].layer->parameters().empty()) trained_upstream = true;
    input = summary[i].output_shape;
  }
  return convs;
}

// ---- cuDNN ---------------------------------------------------------------------------------------

// One device buffer for every cuDNN call, grown to the largest need up to `cap` bytes.
class Workspace {
 public:
  Workspace(Device device, size_t cap) : device_(device), cap_(cap) {}
  size_t cap() const { return cap_; }
  void reserve(size_t bytes) {
    if (bytes > bytes_) {
      buffer_ = Tensor();  // free the old one first
      buffer_ = Tensor::empty({int64_t(bytes)}, DType::u8, device_);
      bytes_ = bytes;
    }
  }
  void* data() const { return bytes_ ? buffer_.raw_data() : nullptr; }
  size_t bytes() const { return bytes_; }

 private:
  Device device_;
  size_t cap_;
  Tensor buffer_;
  size_t bytes_ = 0;
};

const char* math_name(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_DEFAULT_MATH: return "default";
    case CUDNN_TENSOR_OP_MATH: return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op+conversion";
    case CUDNN_FMA_MATH: return "fma";
  }
  return "?";
}

bool tensor_op_math(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

const char* algorithm_name(cudnnConvolutionFwdAlgo_t algo) {
  static const char* names[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return algo >= 0 && algo < CUDNN_CONVOLUTION_FWD_ALGO_COUNT ? names[algo] : "?";
}
const char* algorithm_name(cudnnConvolutionBwdDataAlgo_t algo) {
  static const char* names[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT ? names[algo] : "?";
}
const char* algorithm_name(cudnnConvolutionBwdFilterAlgo_t algo) {
  static const char* names[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT ? names[algo] : "?";
}

// What cudnnFind*AlgorithmEx chose for one pass.
template <typename Algo>
struct Choice {
  Algo algo{};
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
  std::string describe() const {
    return fmt::format("{} {} {:.0f} MiB", algorithm_name(algo), math_name(math), double(workspace) / (1 << 20));
  }
};

// One pass's algorithm: a workspace as large as the hungriest algorithm asks for, up to the
// workspace's cap (one that wants more fails in the search and is passed over); cuDNN's search,
// which runs every algorithm on the real buffers (and so writes the pass's output) and returns
// the results sorted by time; then the fastest that ran and, for the FMA peer, does not claim
// tensor cores. `workspace_size(algo, &bytes)` is the pass's cudnnGet*WorkspaceSize,
// `find(count, &returned, results, workspace, bytes)` its cudnnFind*AlgorithmEx.
template <typename Algo, typename Perf>
Choice<Algo> find_fastest(const std::string& what, int algorithms, cudnnMathType_t math, Workspace& workspace,
                          const std::function<cudnnStatus_t(Algo, size_t*)>& workspace_size,
                          const std::function<cudnnStatus_t(int, int*, Perf*, void*, size_t)>& find) {
  size_t largest = 0;
  for (int algo = 0; algo < algorithms; ++algo) {
    size_t bytes = 0;
    if (workspace_size(Algo(algo), &bytes) == CUDNN_STATUS_SUCCESS && bytes <= workspace.cap())
      largest = std::max(largest, bytes);
  }
  workspace.reserve(largest);
  std::vector<Perf> results(static_cast<size_t>(algorithms));
  int returned = 0;
  const cudnnStatus_t status = find(algorithms, &returned, results.data(), workspace.data(), workspace.bytes());
  check_cudnn(status, ("cudnnFind*AlgorithmEx for " + what).c_str(), __FILE__, __LINE__);
  for (int i = 0; i < returned; ++i) {
    const Perf& r = results[size_t(i)];
    if (r.status != CUDNN_STATUS_SUCCESS || (math == CUDNN_FMA_MATH && tensor_op_math(r.mathType))) continue;
    return {r.algo, r.mathType, r.memory};
  }
  I2V_THROW("cuDNN found no algorithm for {} with {} math ({} tried)", what, math_name(math), returned);
}

// The descriptors of one layer's tensors and its convolution (one descriptor per pass, as each
// pass carries the math type of its own algorithm).
class CudnnDescriptors {
 public:
  explicit CudnnDescriptors(const ConvLayer& layer) {
    CHECK_CUDNN(cudnnCreateTensorDescriptor(&x));
    CHECK_CUDNN(cudnnCreateTensorDescriptor(&y));
    CHECK_CUDNN(cudnnCreateTensorDescriptor(&bias));
    CHECK_CUDNN(cudnnCreateFilterDescriptor(&w));
    const auto i = [](int64_t v) { return int(v); };
    CHECK_CUDNN(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(layer.input[0]),
                                           i(layer.input[1]), i(layer.input[2]), i(layer.input[3])));
    CHECK_CUDNN(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(layer.output[0]),
                                           i(layer.output[1]), i(layer.output[2]), i(layer.output[3])));
    CHECK_CUDNN(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i(layer.output[1]), 1, 1));
    CHECK_CUDNN(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(layer.output[1]),
                                           i(layer.input[1]), i(layer.kernel), i(layer.kernel)));
    for (cudnnConvolutionDescriptor_t* conv : {&forward, &backward_data, &backward_filter}) {
      CHECK_CUDNN(cudnnCreateConvolutionDescriptor(conv));
      CHECK_CUDNN(cudnnSetConvolution2dDescriptor(*conv, i(layer.padding), i(layer.padding), i(layer.stride),
                                                  i(layer.stride), 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    }
    // cuDNN's idea of the output shape must be ours.
    int n = 0, c = 0, h = 0, wd = 0;
    CHECK_CUDNN(cudnnGetConvolution2dForwardOutputDim(forward, x, w, &n, &c, &h, &wd));
    I2V_CHECK((Shape{n, c, h, wd}) == layer.output, "{}: cuDNN's output [{}, {}, {}, {}], ours {}", layer.name, n, c,
              h, wd, shape_str(layer.output));
  }
  ~CudnnDescriptors() {
    for (cudnnConvolutionDescriptor_t conv : {forward, backward_data, backward_filter})
      cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  CudnnDescriptors(const CudnnDescriptors&) = delete;
  CudnnDescriptors& operator=(const CudnnDescriptors&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t forward = nullptr, backward_data = nullptr, backward_filter = nullptr;
};

// The layer's inputs (x, w, b, dy) and a peer's own outputs (y, dx, dw, db). b and db are null
// without a bias, dx when the layer has no input gradient.
struct ConvBuffers {
  const float *x, *w, *b, *dy;
  float *y, *dx, *dw, *db;
};

// One layer's convolution in cuDNN with one math type: the fastest algorithm of each pass, then
// forward() and backward() as PyTorch calls them.
class CudnnConvolution {
 public:
  CudnnConvolution(cudnnHandle_t handle, const ConvLayer& layer, cudnnMathType_t math, Workspace& workspace,
                   const ConvBuffers& buffers)
      : handle_(handle), d_(layer), workspace_(workspace), b_(buffers) {
    for (cudnnConvolutionDescriptor_t conv : {d_.forward, d_.backward_data, d_.backward_filter})
      CHECK_CUDNN(cudnnSetConvolutionMathType(conv, math));
    const std::string name = layer.name + (math == CUDNN_FMA_MATH ? " fp32" : " tf32");
    forward_ = find_fastest<cudnnConvolutionFwdAlgo_t, cudnnConvolutionFwdAlgoPerf_t>(
        name + " forward", CUDNN_CONVOLUTION_FWD_ALGO_COUNT, math, workspace,
        [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionForwardWorkspaceSize(handle_, d_.x, d_.w, d_.forward, d_.y, algo, bytes);
        },
        [&](int count, int* returned, cudnnConvolutionFwdAlgoPerf_t* results, void* ws, size_t bytes) {
          return cudnnFindConvolutionForwardAlgorithmEx(handle_, d_.x, b_.x, d_.w, b_.w, d_.forward, d_.y, b_.y, count,
                                                        returned, results, ws, bytes);
        });
    if (b_.dx)
      backward_data_ = find_fastest<cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdDataAlgoPerf_t>(
          name + " backward data", CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, math, workspace,
          [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
            return cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, d_.w, d_.y, d_.backward_data, d_.x, algo,
                                                                bytes);
          },
          [&](int count, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* results, void* ws, size_t bytes) {
            return cudnnFindConvolutionBackwardDataAlgorithmEx(handle_, d_.w, b_.w, d_.y, b_.dy, d_.backward_data,
                                                               d_.x, b_.dx, count, returned, results, ws, bytes);
          });
    backward_filter_ = find_fastest<cudnnConvolutionBwdFilterAlgo_t, cudnnConvolutionBwdFilterAlgoPerf_t>(
        name + " backward filter", CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, math, workspace,
        [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, d_.x, d_.y, d_.backward_filter, d_.w, algo,
                                                                bytes);
        },
        [&](int count, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* results, void* ws, size_t bytes) {
          return cudnnFindConvolutionBackwardFilterAlgorithmEx(handle_, d_.x, b_.x, d_.y, b_.dy, d_.backward_filter,
                                                               d_.w, b_.dw, count, returned, results, ws, bytes);
        });
    // cuDNN picks kernels by algorithm and math type together: each pass's descriptor takes the
    // math type its algorithm was timed with (the FMA peer's stay FMA).
    if (math != CUDNN_FMA_MATH) {
      CHECK_CUDNN(cudnnSetConvolutionMathType(d_.forward, forward_.math));
      if (b_.dx) CHECK_CUDNN(cudnnSetConvolutionMathType(d_.backward_data, backward_data_.math));
      CHECK_CUDNN(cudnnSetConvolutionMathType(d_.backward_filter, backward_filter_.math));
    }
  }

  void forward() {
    const float one = 1, zero = 0;
    CHECK_CUDNN(cudnnConvolutionForward(handle_, &one, d_.x, b_.x, d_.w, b_.w, d_.forward, forward_.algo,
                                        workspace_.data(), workspace_.bytes(), &zero, d_.y, b_.y));
    if (b_.b) CHECK_CUDNN(cudnnAddTensor(handle_, &one, d_.bias, b_.b, &one, d_.y, b_.y));
  }

  void backward() {
    const float one = 1, zero = 0;
    if (b_.dx)
      CHECK_CUDNN(cudnnConvolutionBackwardData(handle_, &one, d_.w, b_.w, d_.y, b_.dy, d_.backward_data,
                                               backward_data_.algo, workspace_.data(), workspace_.bytes(), &zero,
                                               d_.x, b_.dx));
    CHECK_CUDNN(cudnnConvolutionBackwardFilter(handle_, &one, d_.x, b_.x, d_.y, b_.dy, d_.backward_filter,
                                               backward_filter_.algo, workspace_.data(), workspace_.bytes(), &zero,
                                               d_.w, b_.dw));
    if (b_.db) CHECK_CUDNN(cudnnConvolutionBackwardBias(handle_, &one, d_.y, b_.dy, &zero, d_.bias, b_.db));
  }

  std::string describe() const {
    return fmt::format("fwd {}; data {}; filter {}", forward_.describe(),
                       b_.dx ? backward_data_.describe() : std::string("-"), backward_filter_.describe());
  }

 private:
  cudnnHandle_t handle_;
  CudnnDescriptors d_;
  Workspace& workspace_;
  ConvBuffers b_;
  Choice<cudnnConvolutionFwdAlgo_t> forward_;
  Choice<cudnnConvolutionBwdDataAlgo_t> backward_data_;
  Choice<cudnnConvolutionBwdFilterAlgo_t> backward_filter_;
};

// ---- cuBLAS --------------------------------------------------------------------------------------

class Cublas {
 public:
  Cublas() {
    CHECK_CUBLAS(cublasCreate(&handle_));
    CHECK_CUBLAS(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
  }
  ~Cublas() { cublasDestroy(handle_); }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;

  // C = op(A) · op(B) with kernels/gemm.h's row-major contract (alpha 1, beta 0). A row-major
  // matrix is its transpose in column-major order, so cuBLAS computes Cᵀ = op(B)ᵀ · op(A)ᵀ:
  // B first, n × m, the same transposes.
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
            int64_t ldb, float* c, int64_t ldc, cublasComputeType_t compute) const {
    const float one = 1, zero = 0;
    for (int64_t v : {m, n, k, lda, ldb, ldc})
      I2V_CHECK(v <= std::numeric_limits<int>::max(), "cuBLAS's int dimensions: {} is too large", v);
    CHECK_CUBLAS(cublasGemmEx(handle_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                              int(n), int(m), int(k), &one, b, CUDA_R_32F, int(ldb), a, CUDA_R_32F, int(lda), &zero,
                              c, CUDA_R_32F, int(ldc), compute, CUBLAS_GEMM_DEFAULT));
  }
  int version() const {
    int v = 0;
    CHECK_CUBLAS(cublasGetVersion(handle_, &v));
    return v;
  }

 private:
  cublasHandle_t handle_ = nullptr;
};

// ---- measurements --------------------------------------------------------------------------------

// Milliseconds of one pass, ours and the peer's (kNone where not measured).
struct PassTimes {
  double ours = kNone, peer = kNone;
};

// Relative errors of each result against the reference (kAbsent where the layer has no such
// tensor, or nothing was compared).
struct ConvErrors {
  double y = kAbsent, dx = kAbsent, dw = kAbsent, db = kAbsent;
  // The largest, infinite when one is NaN.
  double worst() const {
    double w = 0;
    for (double e : {y, dx, dw, db}) w = std::isnan(e) ? HUGE_VAL : std::max(w, e);
    return w;
  }
  std::string str() const {
    std::string out;
    for (double e : {y, dx, dw, db}) out += e == kAbsent ? " -" : fmt::format(" {:.1e}", e);
    return out.substr(1);
  }
  json to_json() const {
    json out;
    const char* names[] = {"y", "dx", "dw", "db"};
    int i = 0;
    for (double e : {y, dx, dw, db}) out[names[i++]] = e == kAbsent ? json() : json(e);
    return out;
  }
};

struct ConvResult {
  const ConvLayer* layer = nullptr;
  PassTimes forward[kPrecisionCount], backward[kPrecisionCount];  // by precision: fp32, tf32, bf16
  ConvErrors ours[kPrecisionCount], peer_tf32;                      // against the reference
  std::string algorithms[kCudnnPeers];                              // the peers' choices
};

// The layer's results in one place: ours or a peer's.
struct ConvOutputs {
  Tensor y, dx, dw, db;
  ConvErrors against(const ConvOutputs& reference) const {
    ConvErrors e;
    e.y = relative_error(y, reference.y);
    if (dx.defined()) e.dx = relative_error(dx, reference.dx);
    e.dw = relative_error(dw, reference.dw);
    if (db.defined()) e.db = relative_error(db, reference.db);
    return e;
  }
  static ConvOutputs empty_like(const ConvLayer& layer, Device device) {
    ConvOutputs o;
    o.y = Tensor::empty(layer.output, DType::f32, device);
    if (layer.input_grad) o.dx = Tensor::empty(layer.input, DType::f32, device);
    o.dw = Tensor::empty(layer.conv->weight().value.shape(), DType::f32, device);
    if (layer.conv->bias().value.defined()) o.db = Tensor::empty({layer.output[1]}, DType::f32, device);
    return o;
  }
  // A peer's buffers: the layer's inputs, these outputs.
  ConvBuffers buffers(const Tensor& x, Conv2d& conv, const Tensor& dy) const {
    const auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
    return {ptr(x), ptr(conv.weight().value), ptr(conv.bias().value), ptr(dy), ptr(y), ptr(dx), ptr(dw), ptr(db)};
  }
};

// Our layer's forward and backward from zeroed gradients.
ConvOutputs run_ours(const ConvLayer& layer, const Tensor& x, const Tensor& dy) {
  Conv2d& conv = *layer.conv;
  conv.zero_grad();
  ConvOutputs o;
  o.y = conv.forward({x}, Mode::train);
  const std::vector<Tensor> dx = conv.backward(dy, {layer.input_grad});
  if (layer.input_grad) o.dx = dx.at(0);
  o.dw = conv.weight().grad;
  if (conv.bias().value.defined()) o.db = conv.bias().grad;
  conv.clear_saved();
  return o;
}

// The reference without cuDNN (the sim device): our CPU Conv2d with the same weights.
ConvOutputs run_on_cpu(const ConvLayer& layer, const Tensor& x, const Tensor& dy, Device device) {
  const bool bias = layer.conv->bias().value.defined();
  Conv2d cpu(layer.input[1], layer.output[1], layer.kernel, layer.stride, layer.padding, bias);
  cpu.weight().value.copy_from(layer.conv->weight().value);
  if (bias) cpu.bias().value.copy_from(layer.conv->bias().value);
  ConvLayer on_cpu = layer;
  on_cpu.conv = &cpu;
  const ConvOutputs o = run_ours(on_cpu, x.to(Device::cpu()), dy.to(Device::cpu()));
  const auto back = [&](const Tensor& t) { return t.defined() ? t.to(device) : Tensor(); };
  return {back(o.y), back(o.dx), back(o.dw), back(o.db)};
}

struct Context {
  const Settings& settings;
  const Timer& timer;
  Budget& budget;
  cudnnHandle_t cudnn = nullptr;  // null on sim
  Workspace* workspace = nullptr;
  const Cublas* cublas = nullptr;
  int mismatches = 0;

  // Runs one measurement; an error in it is printed and counted, and the run goes on to the next
  // (a caller with one chance at a GPU keeps every other number).
  template <typename F>
  void attempt(const std::string& what, F&& measure) {
    try {
      measure();
    } catch (const Error& e) {
      ++mismatches;
      say("error: {}: {}\n", what, e.what());
    }
  }

  // Prints an "error:" line when `errors` are further from the reference than `precision` allows.
  void judge(const std::string& what, Precision precision, double worst) {
    const double limit = kAgreement[int(std::find(std::begin(kPrecisions), std::end(kPrecisions), precision) -
                                        std::begin(kPrecisions))];
    if (worst <= limit) return;
    ++mismatches;
    say("error: {} differs from the reference by {:.2e} (more than {:.0e})\n", what, worst, limit);
  }
};

ConvResult measure_conv(Context& ctx, const ConvLayer& layer) {
  const Device device = ctx.settings.device;
  std::mt19937_64 rng(7);
  const Tensor x = bench::normal_tensor(layer.input, device, rng);
  const Tensor dy = bench::normal_tensor(layer.output, device, rng);
  ConvResult result;
  result.layer = &layer;

  // The peers first: their search writes their outputs, and the fp32 one is the reference.
  ConvOutputs reference, peer_tf32;
  std::unique_ptr<CudnnConvolution> peers[kPrecisionCount];  // by precision; none for bf16
  if (ctx.cudnn) {
    reference = ConvOutputs::empty_like(layer, device);
    peer_tf32 = ConvOutputs::empty_like(layer, device);
    peers[0] = std::make_unique<CudnnConvolution>(ctx.cudnn, layer, CUDNN_FMA_MATH, *ctx.workspace,
                                                  reference.buffers(x, *layer.conv, dy));
    peers[1] = std::make_unique<CudnnConvolution>(ctx.cudnn, layer, CUDNN_DEFAULT_MATH, *ctx.workspace,
                                                  peer_tf32.buffers(x, *layer.conv, dy));
    for (int p = 0; p < kCudnnPeers; ++p) {
      peers[p]->forward();
      peers[p]->backward();
      result.algorithms[p] = peers[p]->describe();
    }
    result.peer_tf32 = peer_tf32.against(reference);
  } else {
    reference = run_on_cpu(layer, x, dy, device);
  }
  for (int p = 0; p < kPrecisionCount; ++p) {
    PrecisionScope scope(kPrecisions[p]);
    result.ours[p] = run_ours(layer, x, dy).against(reference);
    ctx.judge(fmt::format("{} ours {}", layer.name, precision_name(kPrecisions[p])), kPrecisions[p],
              result.ours[p].worst());
  }

  Conv2d& conv = *layer.conv;
  for (int p = 0; p < kPrecisionCount; ++p) {
    PrecisionScope scope(kPrecisions[p]);
    result.forward[p].ours = ctx.timer.median_ms([&] { conv.forward({x}, Mode::train); });
    conv.forward({x}, Mode::train);
    result.backward[p].ours = ctx.timer.median_ms([&] { conv.backward(dy, {layer.input_grad}); });
    conv.clear_saved();
    if (peers[p]) {
      result.forward[p].peer = ctx.timer.median_ms([&] { peers[p]->forward(); });
      result.backward[p].peer = ctx.timer.median_ms([&] { peers[p]->backward(); });
    }
  }
  return result;
}

std::string ms_or_dash(double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.3f}", v); }

// The layer's lines as it finishes (no "TFLOP", "vs cuDNN" or "ratio" here: the summary has those).
void print_conv_details(const ConvResult& r, bool peers) {
  const ConvLayer& l = *r.layer;
  say("{}: {} -> {}, {}x{} stride {} pad {}, {:.3g} GFLOP forward, {:.3g} backward{}\n", l.name, shape_str(l.input),
      shape_str(l.output), l.kernel, l.kernel, l.stride, l.padding, l.forward_flops() / 1e9, l.backward_flops() / 1e9,
      l.input_grad ? "" : " (no input gradient)");
  if (peers) {
    say("  cuDNN fp32 (FMA math):     {}\n", r.algorithms[0]);
    say("  cuDNN tf32 (default math): {}\n", r.algorithms[1]);
  }
  say("  relerr (y dx dw db) against {}: ours fp32 {}; ours tf32 {}; ours bf16 {}{}\n",
      peers ? "cuDNN fp32" : "our CPU Conv2d", r.ours[0].str(), r.ours[1].str(), r.ours[2].str(),
      peers ? "; cuDNN tf32 " + r.peer_tf32.str() : "");
  for (int p = 0; p < kPrecisionCount; ++p)
    say("  {} ms: forward ours {}, cuDNN {}; backward ours {}, cuDNN {}\n", precision_name(kPrecisions[p]),
        ms_or_dash(r.forward[p].ours), ms_or_dash(r.forward[p].peer), ms_or_dash(r.backward[p].ours),
        ms_or_dash(r.backward[p].peer));
}

struct GemmCase {
  std::string name;
  bool trans_a, trans_b;
  int64_t m, n, k;
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
  std::string shape() const { return fmt::format("{}x{}x{}", m, k, n); }  // m × k × n, as op(A) · op(B)
};

struct GemmResult {
  GemmCase gemm;
  double ours[kPrecisionCount] = {kNone, kNone, kNone}, cublas[kPrecisionCount] = {kNone, kNone, kNone};  // ms
  double pedantic = kNone;                                                                             // ms
  double ours_error[kPrecisionCount] = {kAbsent, kAbsent, kAbsent};    // against the reference
  double cublas_error[kPrecisionCount] = {kAbsent, kAbsent, kAbsent};
};

std::vector<GemmCase> gemm_cases(const Settings& s, const std::vector<ConvLayer>& convs, int64_t fc6_in,
                                 int64_t fc6_out) {
  std::vector<GemmCase> cases = {{"square", false, false, s.square, s.square, s.square}};
  for (const ConvLayer& l : convs) {
    if (l.name != "conv3_2") continue;
    const int64_t images = std::min<int64_t>(4, s.batch);
    cases.push_back({fmt::format("conv3_2 forward, {} images", images), false, false, l.output[1],
                     images * l.output[2] * l.output[3], l.input[1] * l.kernel * l.kernel});
  }
  cases.push_back({"vgg11-fc fc6 forward", false, true, s.batch, fc6_out, fc6_in});
  return cases;
}

GemmResult measure_gemm(Context& ctx, const GemmCase& g) {
  const Device device = ctx.settings.device;
  std::mt19937_64 rng(3);
  const int64_t lda = g.trans_a ? g.m : g.k, ldb = g.trans_b ? g.k : g.n;
  const Tensor a = bench::normal_tensor({g.trans_a ? g.k : g.m, lda}, device, rng);
  const Tensor b = bench::normal_tensor({g.trans_b ? g.n : g.k, ldb}, device, rng);
  Tensor c = Tensor::empty({g.m, g.n}, DType::f32, device);
  GemmResult r;
  r.gemm = g;

  const auto ours = [&] {
    I2V_DISPATCH_FLOATING(device, DType::f32, gemm, g.trans_a, g.trans_b, g.m, g.n, g.k, scalar_t(1),
                          a.data<scalar_t>(), lda, b.data<scalar_t>(), ldb, scalar_t(0), c.data<scalar_t>(), g.n);
  };
  const auto theirs = [&](cublasComputeType_t compute) {
    ctx.cublas->gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, a.data<float>(), lda, b.data<float>(), ldb,
                     c.data<float>(), g.n, compute);
  };
  const cublasComputeType_t computes[kPrecisionCount] = {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32,
                                                         CUBLAS_COMPUTE_32F_FAST_16BF};

  // The reference: cuBLAS pedantic, or Eigen's product on the CPU without cuBLAS.
  Tensor reference;
  if (ctx.cublas) {
    theirs(CUBLAS_COMPUTE_32F_PEDANTIC);
    reference = c.clone();
    for (int p = 0; p < kPrecisionCount; ++p) {
      theirs(computes[p]);
      r.cublas_error[p] = relative_error(c, reference);
    }
  } else {
    const Tensor a_cpu = a.to(Device::cpu()), b_cpu = b.to(Device::cpu());
    Tensor c_cpu = Tensor::empty({g.m, g.n}, DType::f32, Device::cpu());
    cpu::gemm_eigen<float>(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a_cpu.data<float>(), lda, b_cpu.data<float>(),
                           ldb, 0.0f, c_cpu.data<float>(), g.n);
    reference = c_cpu.to(device);
  }
  for (int p = 0; p < kPrecisionCount; ++p) {
    PrecisionScope scope(kPrecisions[p]);
    ours();
    r.ours_error[p] = relative_error(c, reference);
    ctx.judge(fmt::format("gemm {} ours {}", g.shape(), precision_name(kPrecisions[p])), kPrecisions[p],
              r.ours_error[p]);
  }
  reference = Tensor();

  for (int p = 0; p < kPrecisionCount; ++p) {
    PrecisionScope scope(kPrecisions[p]);
    r.ours[p] = ctx.timer.median_ms(ours);
    if (ctx.cublas) r.cublas[p] = ctx.timer.median_ms([&] { theirs(computes[p]); });
  }
  if (ctx.cublas) r.pedantic = ctx.timer.median_ms([&] { theirs(CUBLAS_COMPUTE_32F_PEDANTIC); });

  const auto e = [](double v) { return v == kAbsent ? std::string("-") : fmt::format("{:.1e}", v); };
  say("gemm {} ({}, m x k x n{}{}): ms ours fp32 {} tf32 {} bf16 {}; cuBLAS 32F {}, 32F_PEDANTIC {}, FAST_TF32 {}, "
      "FAST_16BF {}\n",
      g.name, g.shape(), g.trans_a ? ", A transposed" : "", g.trans_b ? ", B transposed" : "", ms_or_dash(r.ours[0]),
      ms_or_dash(r.ours[1]), ms_or_dash(r.ours[2]), ms_or_dash(r.cublas[0]), ms_or_dash(r.pedantic),
      ms_or_dash(r.cublas[1]), ms_or_dash(r.cublas[2]));
  say("  relerr against {}: ours fp32 {}, tf32 {}, bf16 {}; cuBLAS 32F {}, FAST_TF32 {}, FAST_16BF {}\n",
      ctx.cublas ? "cuBLAS 32F_PEDANTIC" : "Eigen on the CPU", e(r.ours_error[0]), e(r.ours_error[1]),
      e(r.ours_error[2]), e(r.cublas_error[0]), e(r.cublas_error[1]), e(r.cublas_error[2]));
  return r;
}

struct StepResult {
  double train_ms[kPrecisionCount] = {kNone, kNone, kNone}, inference_ms[kPrecisionCount] = {kNone, kNone, kNone};
  double loss[kPrecisionCount] = {kNone, kNone, kNone};
};

StepResult measure_steps(Context& ctx, Model& model) {
  const Settings& s = ctx.settings;
  const int64_t outputs = model.summary(1).back().output_shape.back();
  BCEWithLogits loss;
  Sgd sgd(model, bench::kStepSgd);
  const bench::StepInputs inputs = bench::random_step_inputs(model, s.batch, outputs, s.device);
  StepResult r;
  for (int p = 0; p < kPrecisionCount; ++p) {
    if (ctx.budget.spent(fmt::format("the {} training step and inference", precision_name(kPrecisions[p])))) break;
    PrecisionScope scope(kPrecisions[p]);
    r.train_ms[p] = ctx.timer.median_ms([&] { r.loss[p] = bench::train_step(model, loss, sgd, inputs); });
    r.inference_ms[p] = ctx.timer.median_ms([&] { model.forward(inputs.images, Mode::eval); });
    say("i2v-tag {}: training step {:.2f} ms (last step's loss {:.4f}), inference {:.2f} ms\n",
        precision_name(kPrecisions[p]),
        r.train_ms[p], r.loss[p], r.inference_ms[p]);
    if (!std::isfinite(r.loss[p])) {
      ++ctx.mismatches;
      say("error: the {} training step's loss is {}\n", precision_name(kPrecisions[p]), r.loss[p]);
    }
  }
  return r;
}

// ---- the summary -------------------------------------------------------------------------------

std::string ms(double v) { return std::isnan(v) ? std::string("     -   ") : fmt::format("{:7.2f} ms", v); }
std::string rate(double flops, double v) {
  return std::isnan(v) ? std::string("    -") : fmt::format("{:5.1f}", flops / v / 1e9);
}
std::string times(double ours, double peer) {
  return std::isnan(ours) || std::isnan(peer) ? std::string("    -") : fmt::format("{:5.2f}x", ours / peer);
}

// "fwd   28.90 ms   2.0 TFLOP/s, cuDNN    4.97 ms  11.9:  5.81x vs cuDNN"
std::string pass_cell(const char* pass, double flops, const PassTimes& t, const char* peer) {
  return fmt::format("{} {} {} TFLOP/s, {} {} {}: {} vs {}", pass, ms(t.ours), rate(flops, t.ours), peer, ms(t.peer),
                     rate(flops, t.peer), times(t.ours, t.peer), peer);
}

void print_summary(const Settings& s, const std::string& device_line, const std::vector<ConvResult>& convs,
                   const std::vector<GemmResult>& gemms, const StepResult& steps, bool have_steps) {
  say("\n== summary: {}; i2v-tag at {}x{}, batch {}; median of {} after {} warm-up\n", device_line, s.image, s.image,
      s.batch, s.repetitions, s.warmup);
  say("   each cell: our ms and TFLOP/s, the peer's ms and TFLOP/s, then our time over the peer's as Nx vs the peer "
      "(above 1: slower)\n");
  for (int p = 0; p < kPrecisionCount; ++p) {
    PassTimes total_forward{0, 0}, total_backward{0, 0};
    double forward_flops = 0, backward_flops = 0;
    for (const ConvResult& r : convs) {
      const ConvLayer& l = *r.layer;
      say("{:<8} {} | {} | {}\n", l.name, precision_name(kPrecisions[p]),
          pass_cell("fwd", l.forward_flops(), r.forward[p], "cuDNN"),
          pass_cell("bwd", l.backward_flops(), r.backward[p], "cuDNN"));
      total_forward.ours += r.forward[p].ours;
      total_forward.peer += r.forward[p].peer;
      total_backward.ours += r.backward[p].ours;
      total_backward.peer += r.backward[p].peer;
      forward_flops += l.forward_flops();
      backward_flops += l.backward_flops();
    }
    if (!convs.empty())
      say("{:<8} {} | {} | {}\n", "convs", precision_name(kPrecisions[p]),
          pass_cell("fwd", forward_flops, total_forward, "cuDNN"),
          pass_cell("bwd", backward_flops, total_backward, "cuDNN"));
  }
  for (const GemmResult& g : gemms)
    for (int p = 0; p < kPrecisionCount; ++p)
      say("gemm {:<16} {} | {} ({})\n", g.gemm.shape(), precision_name(kPrecisions[p]),
          pass_cell("ours", g.gemm.flops(), {g.ours[p], g.cublas[p]}, "cuBLAS"), g.gemm.name);
  if (!have_steps) return;
  const auto per_s = [&](double v) {
    return std::isnan(v) ? std::string("-") : fmt::format("{:.1f}", double(s.batch) / v * 1e3);
  };
  for (int p = 0; p < kPrecisionCount; ++p)
    say("i2v-tag  {} | training step {}, {} img/s | inference {}, {} img/s\n", precision_name(kPrecisions[p]),
        ms(steps.train_ms[p]), per_s(steps.train_ms[p]), ms(steps.inference_ms[p]), per_s(steps.inference_ms[p]));
}

json to_json(const Settings& s, const std::string& device_line, const Timer& timer,
             const std::vector<ConvResult>& convs, const std::vector<GemmResult>& gemms, const StepResult& steps) {
  json report = {{"device", s.device.name()}, {"device_name", device_line}, {"image", s.image}, {"batch", s.batch},
                 {"repetitions", s.repetitions}, {"warmup", s.warmup}, {"timing", timer.method()}};
  json layers = json::array();
  for (const ConvResult& r : convs) {
    json layer = {{"name", r.layer->name},
                  {"input", r.layer->input},
                  {"output", r.layer->output},
                  {"forward_gflop", r.layer->forward_flops() / 1e9},
                  {"backward_gflop", r.layer->backward_flops() / 1e9},
                  {"cudnn_tf32_relerr", r.peer_tf32.to_json()}};
    for (int p = 0; p < kPrecisionCount; ++p)
      layer[precision_name(kPrecisions[p])] = {
          {"ours_forward_ms", r.forward[p].ours},   {"cudnn_forward_ms", r.forward[p].peer},
          {"ours_backward_ms", r.backward[p].ours}, {"cudnn_backward_ms", r.backward[p].peer},
          {"cudnn_algorithms", r.algorithms[p]},    {"ours_relerr", r.ours[p].to_json()}};
    layers.push_back(layer);
  }
  report["convs"] = layers;
  json gemm_list = json::array();
  for (const GemmResult& g : gemms) {
    json entry = {{"name", g.gemm.name}, {"m", g.gemm.m}, {"n", g.gemm.n}, {"k", g.gemm.k},
                  {"trans_a", g.gemm.trans_a}, {"trans_b", g.gemm.trans_b}, {"cublas_pedantic_ms", g.pedantic}};
    for (int p = 0; p < kPrecisionCount; ++p)
      entry[precision_name(kPrecisions[p])] = {{"ours_ms", g.ours[p]}, {"cublas_ms", g.cublas[p]},
                                               {"ours_relerr", g.ours_error[p]}, {"cublas_relerr", g.cublas_error[p]}};
    gemm_list.push_back(entry);
  }
  report["gemms"] = gemm_list;
  for (int p = 0; p < kPrecisionCount; ++p)
    report["steps"][precision_name(kPrecisions[p])] = {
        {"train_ms", steps.train_ms[p]}, {"inference_ms", steps.inference_ms[p]}, {"loss", steps.loss[p]}};
  return report;
}

// ---- main ----------------------------------------------------------------------------------------

std::set<std::string> split_names(const std::string& list) {
  std::set<std::string> names;
  std::stringstream stream(list);
  for (std::string name; std::getline(stream, name, ',');)
    if (!name.empty()) names.insert(name);
  return names;
}

std::string describe_device(const Settings& s) {
  if (!s.peers()) return "sim (the SIMT emulator on the CPU; no cuDNN or cuBLAS)";
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  int runtime = 0;
  CHECK_CUDA(cudaRuntimeGetVersion(&runtime));
  const size_t cudnn = cudnnGetVersion();
  return fmt::format("{} (sm_{}{}, {} SMs), CUDA runtime {}.{}, cuDNN {}.{}.{} (built with {}.{}.{})", prop.name,
                     prop.major, prop.minor, prop.multiProcessorCount, runtime / 1000, runtime % 1000 / 10,
                     cudnn / 10000, cudnn / 100 % 100, cudnn % 100, CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);
}

int run(int argc, char** argv) {
  Settings s;
  std::string device_flag = "cuda", layers_flag, parts_flag = "convs,gemms,steps";
  int warmup = -1;
  int64_t square = 0, workspace_mib = int64_t(s.workspace_bytes >> 20);
  CLI::App app{"i2v's convolutions, GEMMs and training step on a GPU, in fp32, tf32 and bf16, beside cuDNN and cuBLAS."};
  app.add_option("--device", device_flag, "cuda, or sim (our side only, at a small size)")->capture_default_str();
  app.add_option("--image", s.image, "input height and width")->capture_default_str();
  app.add_option("--batch", s.batch, "images per batch")->capture_default_str();
  app.add_option("--repetitions", s.repetitions, "timed calls per measurement (the median is reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed calls first (default 1; 0 on sim)")->check(CLI::NonNegativeNumber);
  app.add_option("--layers", layers_flag, "conv layers to run, comma-separated (default: all)");
  app.add_option("--parts", parts_flag, "what to run: convs, gemms, steps (comma-separated)")->capture_default_str();
  app.add_option("--square", square, "the square GEMM's size (default 4096; 128 on sim)");
  app.add_option("--workspace-mib", workspace_mib, "the most workspace a cuDNN algorithm may have")
      ->capture_default_str();
  app.add_option("--budget", s.budget_s, "seconds after which no new measurement starts")->capture_default_str();
  app.add_flag("--json", s.json, "print one JSON object at the end instead of text");
  app.footer(
      "Examples:\n"
      "  gpu_bench --device cuda                                   # 224x224, batch 64\n"
      "  gpu_bench --device cuda --layers conv3_2 --parts convs --repetitions 10\n"
      "  gpu_bench --device sim --image 32 --batch 2 --repetitions 1   # runs the code paths on the CPU");
  CLI11_PARSE(app, argc, argv);
  s.device = Device::parse(device_flag);
  I2V_CHECK(!s.device.is_cpu(), "gpu_bench runs on cuda or sim, not the cpu (bench/train_step_bench does)");
  I2V_CHECK(s.device != Device::cuda() || cuda_available(), "--device cuda: {}", cuda_unavailable_reason());
  I2V_CHECK(s.image > 0 && s.batch > 0, "--image and --batch must be positive");
  s.warmup = warmup >= 0 ? warmup : (s.peers() ? 1 : 0);
  s.square = square > 0 ? square : (s.peers() ? 4096 : 128);
  s.layers = split_names(layers_flag);
  s.parts = split_names(parts_flag);
  for (const std::string& part : s.parts)
    I2V_CHECK(part == "convs" || part == "gemms" || part == "steps", "--parts: '{}' is not convs, gemms or steps",
              part);
  s.workspace_bytes = size_t(workspace_mib) << 20;
  // Text lines as they come, also into a file or a pipe: a caller with a time limit keeps them.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (s.json) g_text = stderr;

  Budget budget(s.budget_s);
  const std::string device_line = describe_device(s);
  ZooOptions options;
  options.input_size = s.image;
  const json config = zoo_config("i2v-tag", options);
  Model model = build_model(config);
  model.initialize(1);
  model.to(s.device);
  const std::vector<ConvLayer> all_convs = conv_layers(model, config, s.batch);
  std::vector<ConvLayer> convs;
  for (const ConvLayer& l : all_convs)
    if (s.layers.empty() || s.layers.count(l.name)) convs.push_back(l);
  I2V_CHECK(s.layers.size() <= convs.size(), "--layers {}: i2v-tag's conv layers are conv1_1 .. conv6_4",
            layers_flag);

  const Timer timer(s.device, s.warmup, s.repetitions);
  say("gpu_bench on {}\n", device_line);
  say("timing: {}; median of {} after {} warm-up\n", timer.method(), s.repetitions, s.warmup);
  if (const char* tf32_override = std::getenv("NVIDIA_TF32_OVERRIDE"))
    say("note: NVIDIA_TF32_OVERRIDE={} (0 keeps cuDNN and cuBLAS off TF32)\n", tf32_override);

  // The peers, on cuda only.
  Context ctx{s, timer, budget};
  Workspace workspace(s.device, s.workspace_bytes);
  std::unique_ptr<std::remove_pointer_t<cudnnHandle_t>, cudnnStatus_t (*)(cudnnHandle_t)> cudnn(nullptr, cudnnDestroy);
  std::unique_ptr<Cublas> cublas;
  if (s.peers()) {
    cudnnHandle_t handle = nullptr;
    CHECK_CUDNN(cudnnCreate(&handle));
    cudnn.reset(handle);
    cublas = std::make_unique<Cublas>();
    ctx.cudnn = handle;
    ctx.workspace = &workspace;
    ctx.cublas = cublas.get();
    say("cuBLAS {}\n", cublas->version());
  } else {
    say("note: no cuDNN or cuBLAS on sim: the peers are skipped, ours run alone\n");
  }

  std::vector<ConvResult> conv_results;
  if (s.parts.count("convs")) {
    say("\n== convolutions of i2v-tag\n");
    for (const ConvLayer& layer : convs) {
      if (budget.spent("conv layer " + layer.name)) continue;
      ctx.attempt(layer.name, [&] {
        conv_results.push_back(measure_conv(ctx, layer));
        print_conv_details(conv_results.back(), s.peers());
      });
    }
  }
  std::vector<GemmResult> gemm_results;
  if (s.parts.count("gemms")) {
    say("\n== GEMMs\n");
    // vgg11-fc's fc6 reads the trunk's pool5 output, which i2v-tag shares.
    int64_t fc6_in = 0, fc6_out = 0;
    for (const LayerSummary& row : model.summary(1))
      if (row.name == "pool5") fc6_in = shape_numel(row.output_shape);
    const json vgg11_fc = zoo_config("vgg11-fc", options);
    for (const json& layer : vgg11_fc.at("layers"))
      if (layer.at("name") == "fc6") fc6_out = layer.at("out_features").get<int64_t>();
    I2V_CHECK(fc6_in > 0 && fc6_out > 0, "no pool5 in i2v-tag or no fc6 in vgg11-fc");
    for (const GemmCase& g : gemm_cases(s, all_convs, fc6_in, fc6_out)) {
      if (budget.spent("gemm " + g.name)) continue;
      ctx.attempt("gemm " + g.name, [&] { gemm_results.push_back(measure_gemm(ctx, g)); });
    }
  }
  StepResult steps;
  if (s.parts.count("steps")) {
    say("\n== the training step and inference\n");
    ctx.attempt("the training step", [&] { steps = measure_steps(ctx, model); });
  }
  print_summary(s, device_line, conv_results, gemm_results, steps, s.parts.count("steps") > 0);
  say("gpu_bench: {:.0f} s{}\n", budget.elapsed_s(),
      ctx.mismatches ? fmt::format("; error: {} results disagree with the reference", ctx.mismatches) : "");
  if (s.json) {
    json report = to_json(s, device_line, timer, conv_results, gemm_results, steps);
    report["mismatches"] = ctx.mismatches;
    std::printf("%s\n", report.dump().c_str());
  }
  return ctx.mismatches ? 2 : 0;
}

}  // namespace
}  // namespace i2v

int main(int argc, char** argv) {
  try {
    return i2v::run(argc, argv);
  } catch (const i2v::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "gpu_bench: error: %s\n", e.what());
    return 1;
  }
}
