#include "nn/layers/nodes.h"

#include "base/error.h"

namespace i2v {

void check_node_features(const Layer& layer, const Shape& shape, const char* what) {
  I2V_CHECK(shape.size() == 3, "{}: {} of shape {}, expected node features [N, nodes, features]", layer.describe(),
            what, shape_str(shape));
}

void check_inputs_alike(const Layer& layer, const std::vector<Tensor>& inputs) {
  for (size_t i = 1; i < inputs.size(); ++i)
    I2V_CHECK(inputs[i].device() == inputs[0].device() && inputs[i].dtype() == inputs[0].dtype(),
              "{}: input {} is {} on {}, input 0 is {} on {}", layer.describe(), i, dtype_name(inputs[i].dtype()),
              inputs[i].device().name(), dtype_name(inputs[0].dtype()), inputs[0].device().name());
}

}  // namespace i2v
