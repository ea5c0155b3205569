#include "tests/layer_check.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "base/error.h"
#include "kernels/sim/simt.h"

#include "tests/test_util.h"

namespace i2v::test {
namespace {

Tensor normal_like(const Shape& shape, DType dtype, Device device, std::mt19937_64& rng, double std) {
  std::normal_distribution<double> normal(0.0, std);
  std::vector<double> values(size_t(shape_numel(shape)));
  for (double& v : values) v = normal(rng);
  return Tensor::from_vector(values, shape).cast(dtype).to(device);
}

double weighted_sum(const Tensor& y, const Tensor& weights) {
  const std::vector<double> a = y.to_vector<double>(), b = weights.to_vector<double>();
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

double relative_error(double a, double b) {
  return std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), 1.0});
}

// Checks the analytic gradient of one tensor (an input or a parameter value) element by element.
void check_tensor(const std::string& name, Tensor& value, const Tensor& analytic,
                  const std::function<double()>& loss, std::mt19937_64& rng, const GradientCheckOptions& options) {
  ASSERT_TRUE(analytic.defined()) << name << ": backward returned no gradient";
  ASSERT_EQ(analytic.shape(), value.shape()) << name;
  const std::vector<double> grad = analytic.to_vector<double>();
  double* data = value.data<double>();
  const int64_t n = value.numel();
  std::vector<int64_t> points(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) points[size_t(i)] = i;
  std::shuffle(points.begin(), points.end(), rng);
  points.resize(std::min<size_t>(points.size(), size_t(options.max_points_per_tensor)));
  int checked = 0, kinks = 0;
  for (int64_t i : points) {
    const double original = data[i];
    const double at = loss();
    data[i] = original + options.step;
    const double plus = loss();
    data[i] = original - options.step;
    const double minus = loss();
    data[i] = original;
    const double right = (plus - at) / options.step, left = (at - minus) / options.step;
    if (relative_error(left, right) > options.kink_tolerance) {
      ++kinks;
      continue;
    }
    const double numeric = (plus - minus) / (2 * options.step);
    ++checked;
    EXPECT_LE(relative_error(grad[size_t(i)], numeric), options.tolerance)
        << name << "[" << i << "]: analytic " << grad[size_t(i)] << ", numeric " << numeric;
  }
  EXPECT_GT(checked, 0) << name << ": every sampled point sat on a kink (" << kinks << ")";
}

bool is_constant(size_t input, const std::vector<size_t>& constant_inputs) {
  return std::find(constant_inputs.begin(), constant_inputs.end(), input) != constant_inputs.end();
}

void expect_close(const std::string& name, const Tensor& expected, const Tensor& actual, const Tolerances& tolerances) {
  ASSERT_TRUE(actual.defined()) << name << " missing";
  ASSERT_EQ(expected.shape(), actual.shape()) << name;
  auto it = tolerances.find(name);
  const Tolerance tol = it == tolerances.end() ? Tolerance{} : it->second;
  const std::vector<double> a = expected.cast(DType::f64).to_vector<double>();
  const std::vector<double> b = actual.cast(DType::f64).to_vector<double>();
  int reported = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double allowed = tol.absolute + tol.relative * std::max(std::fabs(a[i]), std::fabs(b[i]));
    if (!(std::fabs(a[i] - b[i]) <= allowed) && reported++ < 5)  // NaN fails too
      ADD_FAILURE() << name << "[" << i << "]: cpu " << a[i] << ", " << actual.device().name() << " " << b[i]
                    << " (allowed difference " << allowed << ")";
  }
  if (reported > 5) ADD_FAILURE() << name << ": " << reported << " elements differ in all";
}

}  // namespace

void randomize_parameters(Layer& layer, std::mt19937_64& rng, double std) {
  for (auto& [name, p] : layer.parameters())
    p->value = normal_like(p->value.shape(), p->value.dtype(), p->value.device(), rng, std);
}

void check_gradients(Layer& layer, const std::vector<Tensor>& inputs, std::mt19937_64& rng,
                     const GradientCheckOptions& options) {
  layer.to(Device::cpu(), DType::f64);
  randomize_parameters(layer, rng);
  std::vector<Tensor> x;
  for (const Tensor& input : inputs) x.push_back(input.cast(DType::f64).to(Device::cpu()).clone());

  auto forward = [&] {
    if (options.before_forward) options.before_forward(layer);
    return layer.forward(x, options.mode);
  };
  const Tensor y = forward();
  const Tensor r = normal_like(y.shape(), DType::f64, Device::cpu(), rng, 1.0);
  auto loss = [&] { return weighted_sum(forward(), r); };

  forward();
  layer.zero_grad();
  std::vector<bool> need(x.size());
  for (size_t i = 0; i < x.size(); ++i) need[i] = !is_constant(i, options.constant_inputs);
  const std::vector<Tensor> grads = layer.backward(r, need);
  ASSERT_EQ(grads.size(), x.size()) << layer.describe() << ": one gradient per input";
  for (size_t i = 0; i < x.size(); ++i)
    if (need[i]) check_tensor("input" + std::to_string(i), x[i], grads[i], loss, rng, options);
  for (auto& [name, p] : layer.parameters())
    if (p->requires_grad) check_tensor(name, p->value, p->grad.clone(), loss, rng, options);
}

void check_devices_agree(const std::function<std::unique_ptr<Layer>()>& make_layer,
                         const std::vector<Tensor>& inputs, Device device, std::mt19937_64& rng,
                         const Tolerances& tolerances, Mode mode, const std::vector<size_t>& constant_inputs) {
  std::unique_ptr<Layer> reference = make_layer(), tested = make_layer();
  randomize_parameters(*reference, rng);
  auto ref_params = reference->parameters(), dev_params = tested->parameters();
  for (size_t i = 0; i < ref_params.size(); ++i) dev_params[i].second->value = ref_params[i].second->value.clone();
  tested->to(device);
  reference->zero_grad();
  tested->zero_grad();

  std::vector<Tensor> cpu_inputs, device_inputs;
  for (const Tensor& input : inputs) {
    cpu_inputs.push_back(input.to(Device::cpu()));
    device_inputs.push_back(input.to(device));
  }
  const Tensor y_ref = reference->forward(cpu_inputs, mode);
  const Tensor y_dev = tested->forward(device_inputs, mode);
  EXPECT_EQ(y_dev.device(), device);
  expect_close("output", y_ref, y_dev, tolerances);
  auto ref_buffers = reference->buffers(), dev_buffers = tested->buffers();
  for (size_t i = 0; i < ref_buffers.size(); ++i)
    expect_close("buffer_" + ref_buffers[i].first, *ref_buffers[i].second, *dev_buffers[i].second, tolerances);
  if (mode != Mode::train) return;

  const Tensor dy = normal_like(y_ref.shape(), DType::f32, Device::cpu(), rng, 1.0);
  std::vector<bool> need(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) need[i] = !is_constant(i, constant_inputs);
  const std::vector<Tensor> dx_ref = reference->backward(dy, need);
  const std::vector<Tensor> dx_dev = tested->backward(dy.to(device), need);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (need[i]) expect_close("grad_input" + std::to_string(i), dx_ref[i], dx_dev[i], tolerances);
  for (size_t i = 0; i < ref_params.size(); ++i)
    expect_close("grad_" + ref_params[i].first, ref_params[i].second->grad, dev_params[i].second->grad, tolerances);
}

void check_loss_gradients(Loss& loss, const std::vector<Tensor>& inputs, std::mt19937_64& rng,
                          const GradientCheckOptions& options) {
  std::vector<Tensor> x;
  for (const Tensor& input : inputs)
    x.push_back((is_floating(input.dtype()) ? input.cast(DType::f64) : input).to(Device::cpu()).clone());
  auto value = [&] { return loss.forward(x).to_vector<double>().at(0); };
  value();
  const Tensor analytic = loss.backward();
  check_tensor("logits", x[0], analytic, value, rng, options);
}

void check_loss_devices_agree(const std::function<std::unique_ptr<Loss>()>& make_loss,
                              const std::vector<Tensor>& inputs, Device device, const Tolerances& tolerances) {
  std::unique_ptr<Loss> reference = make_loss(), tested = make_loss();
  std::vector<Tensor> cpu_inputs, device_inputs;
  for (const Tensor& input : inputs) {
    cpu_inputs.push_back(input.to(Device::cpu()));
    device_inputs.push_back(input.to(device));
  }
  const Tensor loss_ref = reference->forward(cpu_inputs), loss_dev = tested->forward(device_inputs);
  EXPECT_EQ(loss_dev.device(), device);
  expect_close("loss", loss_ref, loss_dev, tolerances);
  expect_close("grad_logits", reference->backward(), tested->backward(), tolerances);
}

double normwise_relative_error(const Tensor& actual, const Tensor& reference) {
  I2V_CHECK(actual.shape() == reference.shape(), "normwise_relative_error: shapes {} and {}", shape_str(actual.shape()),
            shape_str(reference.shape()));
  const std::vector<double> a = actual.to(Device::cpu()).cast(DType::f64).to_vector<double>();
  const std::vector<double> b = reference.to(Device::cpu()).cast(DType::f64).to_vector<double>();
  double difference = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  if (difference == 0) return 0;  // equal (also when both are zero)
  return std::sqrt(difference) / std::sqrt(norm);  // NaN stays NaN; a zero reference gives infinity
}

double expect_normwise_close(const std::string& name, const Tensor& actual, const Tensor& reference, double bound) {
  if (!actual.defined() || !reference.defined()) {
    ADD_FAILURE() << name << ": " << (actual.defined() ? "the reference" : "the tensor") << " is missing";
    return std::numeric_limits<double>::infinity();
  }
  if (actual.shape() != reference.shape()) {
    ADD_FAILURE() << name << ": shape " << shape_str(actual.shape()) << ", reference " << shape_str(reference.shape());
    return std::numeric_limits<double>::infinity();
  }
  const double error = normwise_relative_error(actual, reference);
  EXPECT_LE(error, bound) << name << ": normwise relative error ‖" << actual.device().name()
                          << " − reference‖ / ‖reference‖ = " << error;
  return error;
}

void check_bitwise_reproducible(const std::function<std::vector<float>()>& run, std::mt19937_64& rng) {
  simt::set_schedule(simt::Schedule::shuffled, rng());
  const std::vector<float> first = run();
  simt::set_schedule(simt::Schedule::shuffled, rng());
  const std::vector<float> second = run();
  simt::set_schedule(simt::Schedule::shuffled, run_seed());
  EXPECT_EQ(first, second);
}

}  // namespace i2v::test
