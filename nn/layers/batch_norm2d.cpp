#include "nn/layers/batch_norm2d.h"

#include <fmt/format.h>

#include "kernels/batch_norm.h"
#include "base/error.h"
#include "nn/layers/checks.h"

namespace i2v {

BatchNorm2d::BatchNorm2d(int64_t channels, double eps, double momentum)
    : channels_(channels), eps_(eps), momentum_(momentum) {
  I2V_CHECK(channels > 0, "batch_norm2d: {} channels", channels);
  I2V_CHECK(eps > 0, "batch_norm2d: eps {} must be positive", eps);
  I2V_CHECK(momentum >= 0 && momentum <= 1, "batch_norm2d: momentum {} is not in [0, 1]", momentum);
  weight_ = make_parameter({channels});
  weight_.value.fill_(1.0);
  bias_ = make_parameter({channels});
  running_mean_ = Tensor::zeros({channels});
  running_var_ = Tensor::full({channels}, 1.0);
  num_batches_tracked_ = Tensor::zeros({}, DType::i64);
}

std::string BatchNorm2d::describe() const {
  return fmt::format("batch_norm2d {} eps={:g} momentum={:g}", channels_, eps_, momentum_);
}

Shape BatchNorm2d::output_shape(const std::vector<Shape>& inputs) const {
  check_input_count(*this, inputs.size(), 1);
  check_rank(*this, inputs[0], 4, "NCHW");
  I2V_CHECK(inputs[0][1] == channels_, "{}: input {} has {} channels", describe(), shape_str(inputs[0]),
            inputs[0][1]);
  return inputs[0];
}

// A subtraction and a multiply-add per element (the statistics of training not counted).
int64_t BatchNorm2d::forward_flops(const std::vector<Shape>& inputs) const { return 3 * shape_numel(inputs[0]); }

std::vector<std::pair<std::string, Parameter*>> BatchNorm2d::parameters() {
  return {{"weight", &weight_}, {"bias", &bias_}};
}

std::vector<std::pair<std::string, Tensor*>> BatchNorm2d::buffers() {
  return {{"running_mean", &running_mean_}, {"running_var", &running_var_},
          {"num_batches_tracked", &num_batches_tracked_}};
}

namespace {

// A [C] tensor's values on the host, as doubles.
std::vector<double> host_values(const Tensor& t) { return t.cast(DType::f64).to_vector<double>(); }

// Host values into a [C] tensor like `like` (its dtype and device).
Tensor tensor_like(const std::vector<double>& values, const Tensor& like) {
  return Tensor::from_vector(values, {int64_t(values.size())}).cast(like.dtype()).to(like.device());
}

// Every rank's (count, mean, biased variance) of each channel, gathered from `sync`, combined into
// the global batch's, in rank order (Chan, Golub and LeVeque's pairwise formula):
//   M = Σ m_r,  mean = Σ m_r·mean_r / M,  var = Σ m_r·(var_r + (mean_r − mean)²) / M.
// mean and var are replaced; returns M.
int64_t combine_ranks(BatchNormSync& sync, int64_t count, Tensor& mean, Tensor& var, const std::string& layer) {
  const std::vector<double> local_mean = host_values(mean), local_var = host_values(var);
  const size_t c = local_mean.size(), stride = 1 + 2 * c;
  std::vector<double> values{double(count)};
  values.insert(values.end(), local_mean.begin(), local_mean.end());
  values.insert(values.end(), local_var.begin(), local_var.end());
  const std::vector<double> gathered = sync.gather(values, layer + "'s batch statistics");
  const size_t ranks = gathered.size() / stride;
  double total = 0;
  for (size_t r = 0; r < ranks; ++r) total += gathered[r * stride];
  std::vector<double> global_mean(c, 0.0), global_var(c, 0.0);
  for (size_t channel = 0; channel < c; ++channel) {
    for (size_t r = 0; r < ranks; ++r)
      global_mean[channel] += gathered[r * stride] * gathered[r * stride + 1 + channel] / total;
    for (size_t r = 0; r < ranks; ++r) {
      const double* rank = &gathered[r * stride];
      const double deviation = rank[1 + channel] - global_mean[channel];
      global_var[channel] += rank[0] * (rank[1 + c + channel] + deviation * deviation) / total;
    }
  }
  mean = tensor_like(global_mean, mean);
  var = tensor_like(global_var, var);
  return int64_t(total);
}

// Every rank's gradient sums [2, C], each weighted by its rank's gradient weight, added in rank
// order and divided by this rank's weight. The global loss is Σ_r w_r·loss_r, so its dy on rank r
// is w_r times the dy this rank's backward pass carries; the dx it returns is in the same units.
std::vector<double> sum_ranks_gradients(BatchNormSync& sync, const std::vector<double>& sums,
                                        const std::string& layer) {
  const double weight = sync.gradient_weight();
  I2V_CHECK(weight > 0, "{}: a rank without samples in the step cannot take part in sync_batch_norm", layer);
  std::vector<double> sent = sums;
  sent.push_back(weight);
  const std::vector<double> gathered = sync.gather(sent, layer + "'s gradient sums");
  const size_t stride = sent.size(), ranks = gathered.size() / stride;
  std::vector<double> total(sums.size(), 0.0);
  for (size_t r = 0; r < ranks; ++r) {
    const double* rank = &gathered[r * stride];
    for (size_t i = 0; i < sums.size(); ++i) total[i] += rank[i] * rank[sums.size()];
  }
  for (double& value : total) value /= weight;
  return total;
}

}  // namespace

void BatchNorm2d::clear_saved() {
  input_ = KeptActivation();
  batch_mean_ = Tensor();
  batch_var_ = Tensor();
}

Tensor BatchNorm2d::forward(const std::vector<Tensor>& inputs, Mode mode) {
  check_input_count(*this, inputs.size(), 1);
  output_shape({inputs[0].shape()});
  const Tensor given = inputs[0].contiguous();
  const Tensor x = widened(given);  // a bf16 input (nn/layer.h) in f32, kept as it came
  I2V_CHECK(x.device() == weight_.value.device() && x.dtype() == weight_.value.dtype(),
            "{}: input on {} as {}, parameters on {} as {}", describe(), x.device().name(), dtype_name(x.dtype()),
            weight_.value.device().name(), dtype_name(weight_.value.dtype()));
  const int64_t n = x.size(0), c = channels_, s = x.size(2) * x.size(3);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  clear_saved();
  if (mode == Mode::eval) {
    I2V_DISPATCH_FLOATING(x.device(), x.dtype(), batch_norm_forward, x.data<scalar_t>(),
                          running_mean_.data<scalar_t>(), running_var_.data<scalar_t>(),
                          weight_.value.data<scalar_t>(), bias_.value.data<scalar_t>(), n, c, s, scalar_t(eps_),
                          y.data<scalar_t>());
    return y;
  }
  I2V_CHECK(n * s > 1, "{}: training needs more than one value per channel, got input {}", describe(),
            shape_str(x.shape()));
  Tensor mean = Tensor::empty({c}, x.dtype(), x.device()), var = Tensor::empty({c}, x.dtype(), x.device());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), batch_norm_statistics, x.data<scalar_t>(), n, c, s,
                        mean.data<scalar_t>(), var.data<scalar_t>());
  batch_count_ = sync_ ? combine_ranks(*sync_, n * s, mean, var, describe()) : n * s;
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), batch_norm_update_running, mean.data<scalar_t>(), var.data<scalar_t>(),
                        c, batch_count_, scalar_t(momentum_), running_mean_.data<scalar_t>(),
                        running_var_.data<scalar_t>(), num_batches_tracked_.data<int64_t>());
  I2V_DISPATCH_FLOATING(x.device(), x.dtype(), batch_norm_forward, x.data<scalar_t>(), mean.data<scalar_t>(),
                        var.data<scalar_t>(), weight_.value.data<scalar_t>(), bias_.value.data<scalar_t>(), n, c, s,
                        scalar_t(eps_), y.data<scalar_t>());
  input_ = KeptActivation(given);
  batch_mean_ = mean;
  batch_var_ = var;
  return y;
}

std::vector<Tensor> BatchNorm2d::backward(const Tensor& grad_output, const std::vector<bool>& need_input_grad) {
  check_backward_ready(*this, input_.whole_signature(), grad_output);
  const bool need_dx = need_input_grad.at(0);
  if (!need_dx && !weight_.requires_grad && !bias_.requires_grad) return {Tensor()};
  const Tensor dy = grad_output.contiguous(), x = input_.whole();
  const int64_t n = dy.size(0), c = channels_, s = dy.size(2) * dy.size(3);
  Tensor sums = Tensor::empty({2, c}, dy.dtype(), dy.device());  // Σdy, Σdy·(x − mean)
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), batch_norm_backward_sums, x.data<scalar_t>(),
                        dy.data<scalar_t>(), batch_mean_.data<scalar_t>(), n, c, s, sums.data<scalar_t>());
  // The parameters' gradients come from this rank's sums: the gradient reducer adds the ranks'.
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), batch_norm_backward_parameters, batch_var_.data<scalar_t>(),
                        sums.data<scalar_t>(), c, scalar_t(eps_),
                        weight_.requires_grad ? weight_.grad.data<scalar_t>() : nullptr,
                        bias_.requires_grad ? bias_.grad.data<scalar_t>() : nullptr);
  if (!need_dx) return {Tensor()};
  // dx: every value of the global batch moved the statistics, so it takes every rank's sums.
  if (sync_) sums = tensor_like(sum_ranks_gradients(*sync_, host_values(sums), describe()), sums);
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  I2V_DISPATCH_FLOATING(dy.device(), dy.dtype(), batch_norm_backward_input, x.data<scalar_t>(),
                        dy.data<scalar_t>(), batch_mean_.data<scalar_t>(), batch_var_.data<scalar_t>(),
                        weight_.value.data<scalar_t>(), sums.data<scalar_t>(), batch_count_, n, c, s, scalar_t(eps_),
                        dx.data<scalar_t>());
  return {dx};
}

}  // namespace i2v
