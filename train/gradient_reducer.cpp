#include "train/gradient_reducer.h"

#include "base/error.h"
#include "kernels/axpy.h"

namespace i2v {

GradientReducer::GradientReducer(Model& model, ProcessGroup& group, ReducerOptions options)
    : group_(group), options_(options), device_(model.device()) {
  I2V_CHECK(options_.bucket_bytes > 0, "gradient buckets must hold something, not {} bytes", options_.bucket_bytes);
  // Buckets in the backward pass's order: the model's parameters from the last layer back.
  const std::vector<std::pair<std::string, Parameter*>> parameters = model.parameters();
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    Parameter* p = it->second;
    if (!p->requires_grad) continue;
    I2V_CHECK(p->value.dtype() == DType::f32, "{}: distributed training averages f32 gradients, not {}", it->first,
              dtype_name(p->value.dtype()));
    const int64_t bytes = p->value.numel() * int64_t(sizeof(float));
    if (buckets_.empty() || (buckets_.back().count > 0 &&
                             double(buckets_.back().count * int64_t(sizeof(float)) + bytes) > options_.bucket_bytes))
      buckets_.emplace_back();
    Bucket& bucket = buckets_.back();
    const std::string layer = it->first.substr(0, it->first.rfind('.'));
    bucket.parameters.push_back(p);
    bucket.offsets.push_back(bucket.count);
    bucket.count += p->value.numel();
    if (bucket.layers[layer]++ == 0) buckets_of_layer_[layer].push_back(buckets_.size() - 1);
  }
#if I2V_HAVE_NCCL
  if (device_.type == DeviceType::cuda) nccl_ = std::make_unique<NcclGroup>(group_);
#endif
  for (Bucket& bucket : buckets_) {
    bucket.values = Tensor::empty({bucket.count}, DType::f32, device_);
    if (options_.deterministic)
      bucket.gathered =
          Tensor::empty({int64_t(group_.size()) * bucket.count}, DType::f32, on_nccl() ? device_ : Device::cpu());
  }
}

bool GradientReducer::on_nccl() const {
#if I2V_HAVE_NCCL
  return nccl_ != nullptr;
#else
  return false;
#endif
}

void GradientReducer::begin_step(double weight) {
  weight_ = weight;
  for (Bucket& bucket : buckets_) {
    I2V_CHECK(bucket.handle < 0, "begin_step() before the last step's finish()");
    bucket.waiting = int(bucket.layers.size());
  }
}

void GradientReducer::layer_done(const std::string& layer) {
  auto found = buckets_of_layer_.find(layer);
  if (found != buckets_of_layer_.end())
    for (size_t b : found->second)
      if (--buckets_[b].waiting == 0) start(buckets_[b]);
  group_.progress();
}

void GradientReducer::start(Bucket& bucket) {
  // values = weight · gradients, side by side.
  bucket.values.fill_(0.0);
  for (size_t i = 0; i < bucket.parameters.size(); ++i) {
    const Tensor& grad = bucket.parameters[i]->grad;
    I2V_DISPATCH_FLOATING(device_, DType::f32, axpy, grad.numel(), scalar_t(weight_),
                          grad.contiguous().data<scalar_t>(), bucket.values.data<scalar_t>() + bucket.offsets[i]);
  }
#if I2V_HAVE_NCCL
  if (nccl_) {
    if (options_.deterministic) nccl_->start_gather(bucket.values.data<float>(), bucket.count, bucket.gathered.data<float>());
    else nccl_->start_sum(bucket.values.data<float>(), bucket.count);
    bucket.handle = 0;  // NCCL's collectives are waited for together, in finish()
    return;
  }
#endif
  // MPI moves host memory (a GPU's buckets are staged through it).
  bucket.host = device_.is_cpu() ? bucket.values : bucket.values.to(Device::cpu());
  bucket.handle = options_.deterministic
                      ? group_.start_gather(bucket.host.data<float>(), bucket.count, bucket.gathered.data<float>())
                      : group_.start_sum(bucket.host.data<float>(), bucket.count);
}

void GradientReducer::finish(const std::string& what) {
  for (Bucket& bucket : buckets_)
    if (bucket.handle < 0) start(bucket);  // layers the backward pass did not reach
#if I2V_HAVE_NCCL
  if (nccl_) nccl_->wait("the gradient sums of " + what);
#endif
  for (Bucket& bucket : buckets_) {
    if (!on_nccl()) group_.wait(bucket.handle, "the gradient sum of " + what);
    bucket.handle = -1;
    // Where the sum is: on the GPU with NCCL, in host memory with MPI.
    Tensor& sum = on_nccl() ? bucket.values : bucket.host;
    if (options_.deterministic) {
      // The ranks' parts added in rank order.
      sum.copy_from(bucket.gathered.slice(0, 0, bucket.count));
      for (int r = 1; r < group_.size(); ++r)
        I2V_DISPATCH_FLOATING(sum.device(), DType::f32, axpy, bucket.count, scalar_t(1),
                              bucket.gathered.data<scalar_t>() + r * bucket.count, sum.data<scalar_t>());
    }
    if (!sum.shares_storage(bucket.values)) bucket.values.copy_from(sum);
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      Tensor& grad = bucket.parameters[i]->grad;
      grad.copy_from(bucket.values.slice(0, bucket.offsets[i], bucket.offsets[i] + grad.numel()).reshape(grad.shape()));
    }
  }
}

}  // namespace i2v
