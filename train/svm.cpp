#include "train/svm.h"

#include <svm.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <Eigen/Dense>
#include <fmt/format.h>

#include "base/error.h"
#include "base/random.h"
#include "nn/safetensors.h"
#include "train/metrics.h"
#include "base/progress.h"

namespace i2v {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using FloatRows = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// The decision value of a class that has no training row: never among a row's top classes.
constexpr double kAbsentClassRho = 1e30;

Matrix as_matrix(const FeatureMatrix& rows) {
  return FloatRows(rows.values.data(), rows.rows, rows.dims).cast<double>();
}

// K(a_i, b_j) from the inner products ⟨a_i, b_j⟩ and, for rbf, the squared norms of the rows.
Matrix kernel_from_dots(const Matrix& dots, const Eigen::VectorXd& a_norms, const Eigen::VectorXd& b_norms,
                        const SvmParameters& p) {
  if (p.kernel == SvmKernel::sigmoid) return (p.gamma * dots.array() + p.coef0).tanh().matrix();
  Matrix distances = (-2.0 * dots).colwise() + a_norms;
  distances.rowwise() += b_norms.transpose();
  return (-p.gamma * distances.array().max(0.0)).exp().matrix();
}

Matrix kernel_matrix(const FeatureMatrix& a, const FeatureMatrix& b, const SvmParameters& p) {
  const Matrix am = as_matrix(a), bm = as_matrix(b);
  return kernel_from_dots(am * bm.transpose(), am.rowwise().squaredNorm(), bm.rowwise().squaredNorm(), p);
}

void quiet(const char*) {}

// libsvm's nodes for the rows `subset` of a precomputed kernel matrix: row r is
// {0: r + 1} {1: K(r, subset[0])} ... {n: K(r, subset[n-1])} {-1}.
struct PrecomputedProblem {
  std::vector<svm_node> nodes;
  std::vector<svm_node*> rows;

  PrecomputedProblem(const Matrix& kernel, const std::vector<int64_t>& subset) {
    const size_t n = subset.size();
    nodes.resize(n * (n + 2));
    rows.resize(n);
    for (size_t r = 0; r < n; ++r) {
      svm_node* row = &nodes[r * (n + 2)];
      rows[r] = row;
      row[0] = {0, double(r + 1)};
      for (size_t j = 0; j < n; ++j) row[j + 1] = {int(j + 1), kernel(subset[r], subset[j])};
      row[n + 1] = {-1, 0.0};
    }
  }
};

// One binary SVM: the support vectors (positions in the problem's subset), α, ρ, with the
// sign such that a positive decision value means the positive class.
struct BinarySvm {
  std::vector<int64_t> support;
  std::vector<double> alpha;
  double rho = kAbsentClassRho;
};

BinarySvm train_binary(PrecomputedProblem& problem, const std::vector<double>& y, const SvmParameters& p) {
  BinarySvm out;
  if (std::find(y.begin(), y.end(), 1.0) == y.end()) return out;
  svm_problem prob;
  prob.l = int(y.size());
  prob.y = const_cast<double*>(y.data());
  prob.x = problem.rows.data();
  svm_parameter param{};
  param.svm_type = C_SVC;
  param.kernel_type = PRECOMPUTED;
  param.C = p.c;
  param.eps = 1e-3;
  param.cache_size = 100;
  param.shrinking = 1;
  param.probability = 0;
  param.nr_weight = 0;
  const char* problem_error = svm_check_parameter(&prob, &param);
  I2V_CHECK(problem_error == nullptr, "libsvm refuses the problem: {}", problem_error);
  svm_model* model = svm_train(&prob, &param);
  int labels[2] = {1, -1};
  svm_get_labels(model, labels);
  const double sign = labels[0] == 1 ? 1.0 : -1.0;
  const int count = svm_get_nr_sv(model);
  std::vector<int> indices(static_cast<size_t>(count));
  svm_get_sv_indices(model, indices.data());
  for (int i = 0; i < count; ++i) {
    out.support.push_back(indices[size_t(i)] - 1);
    out.alpha.push_back(sign * model->sv_coef[0][i]);
  }
  out.rho = sign * model->rho[0];
  svm_free_and_destroy_model(&model);
  return out;
}

std::vector<double> one_vs_rest_targets(const std::vector<int64_t>& labels, const std::vector<int64_t>& subset,
                                        int64_t positive) {
  std::vector<double> y(subset.size());
  for (size_t r = 0; r < subset.size(); ++r) y[r] = labels[size_t(subset[r])] == positive ? 1.0 : -1.0;
  return y;
}

void check_training_rows(const FeatureMatrix& rows, const std::vector<int64_t>& labels, int64_t classes) {
  I2V_CHECK(rows.rows > 0 && rows.dims > 0, "svm: no training features");
  I2V_CHECK(int64_t(labels.size()) == rows.rows, "svm: {} labels for {} rows", labels.size(), rows.rows);
  I2V_CHECK(rows.rows <= 20000, "svm: {} training rows; the kernel matrices of more than 20,000 would not fit in "
            "memory (see train/svm.h)", rows.rows);
  std::vector<int64_t> counts(size_t(classes), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    I2V_CHECK(labels[i] >= 0 && labels[i] < classes, "svm: row {} has label {}, not one of the {} classes", i, labels[i],
              classes);
    ++counts[size_t(labels[i])];
  }
  I2V_CHECK(std::count_if(counts.begin(), counts.end(), [](int64_t n) { return n > 0; }) >= 2,
            "svm: the training rows hold fewer than two classes");
}

std::string number(double value) { return fmt::format("{:g}", value); }

}  // namespace

const char* svm_kernel_name(SvmKernel kernel) { return kernel == SvmKernel::rbf ? "rbf" : "sigmoid"; }

SvmKernel parse_svm_kernel(const std::string& name) {
  if (name == "rbf") return SvmKernel::rbf;
  if (name == "sigmoid") return SvmKernel::sigmoid;
  I2V_THROW("unknown SVM kernel '{}' (rbf or sigmoid)", name);
}

std::string SvmParameters::describe() const {
  std::string text = fmt::format("{}, C {}, gamma {}", svm_kernel_name(kernel), number(c), number(gamma));
  if (kernel == SvmKernel::sigmoid && coef0 != 0) text += ", coef0 " + number(coef0);
  return text;
}

nlohmann::json SvmParameters::to_json() const {
  return {{"kernel", svm_kernel_name(kernel)}, {"C", c}, {"gamma", gamma}, {"coef0", coef0}};
}

FeatureScaling FeatureScaling::fit(const FeatureMatrix& rows) {
  I2V_CHECK(rows.rows > 0, "feature scaling: no rows");
  FeatureScaling scaling;
  scaling.min.assign(rows.row(0), rows.row(0) + rows.dims);
  std::vector<float> max = scaling.min;
  for (int64_t i = 1; i < rows.rows; ++i)
    for (int64_t d = 0; d < rows.dims; ++d) {
      scaling.min[size_t(d)] = std::min(scaling.min[size_t(d)], rows.row(i)[d]);
      max[size_t(d)] = std::max(max[size_t(d)], rows.row(i)[d]);
    }
  scaling.range.resize(max.size());
  for (size_t d = 0; d < max.size(); ++d) scaling.range[d] = max[d] - scaling.min[d];
  return scaling;
}

FeatureMatrix FeatureScaling::apply(const FeatureMatrix& rows) const {
  I2V_CHECK(rows.dims == int64_t(min.size()), "features have {} dimensions; the scaling (and the SVM) {}", rows.dims,
            min.size());
  FeatureMatrix out = rows;
  for (int64_t i = 0; i < rows.rows; ++i)
    for (int64_t d = 0; d < rows.dims; ++d) {
      float& v = out.values[size_t(i * rows.dims + d)];
      v = range[size_t(d)] > 0 ? (v - min[size_t(d)]) / range[size_t(d)] : 0.0f;
    }
  return out;
}

OneVsRestSvm OneVsRestSvm::train(const FeatureMatrix& rows, const std::vector<int64_t>& labels,
                                 std::vector<std::string> classes, const SvmParameters& parameters,
                                 const std::string& progress_label) {
  const int64_t num_classes = int64_t(classes.size());
  check_training_rows(rows, labels, num_classes);
  svm_set_print_string_function(quiet);
  OneVsRestSvm svm;
  svm.parameters_ = parameters;
  svm.classes_ = std::move(classes);
  svm.scaling_ = FeatureScaling::fit(rows);
  const FeatureMatrix scaled = svm.scaling_.apply(rows);
  std::vector<int64_t> all(size_t(rows.rows));
  for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
  PrecomputedProblem problem(kernel_matrix(scaled, scaled, parameters), all);

  std::vector<BinarySvm> binary(static_cast<size_t>(num_classes));
  Progress progress(progress_label, num_classes, "SVMs");
  int64_t done = 0;
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < num_classes; ++c) {
    binary[size_t(c)] = train_binary(problem, one_vs_rest_targets(labels, all, c), parameters);
#pragma omp critical
    if (!progress_label.empty()) progress.update(++done);
  }

  // The union of the support vectors, in row order, and each class's α over it.
  std::map<int64_t, int64_t> position;
  for (const BinarySvm& b : binary)
    for (int64_t row : b.support) position.emplace(row, 0);
  int64_t next = 0;
  for (auto& [row, slot] : position) {
    slot = next++;
    svm.support_vectors_.values.insert(svm.support_vectors_.values.end(), scaled.row(row), scaled.row(row) + rows.dims);
  }
  svm.support_vectors_.rows = next;
  svm.support_vectors_.dims = rows.dims;
  svm.coefficients_.assign(size_t(num_classes * next), 0.0f);
  for (int64_t c = 0; c < num_classes; ++c) {
    const BinarySvm& b = binary[size_t(c)];
    for (size_t i = 0; i < b.support.size(); ++i)
      svm.coefficients_[size_t(c * next + position.at(b.support[i]))] = float(b.alpha[i]);
    svm.rho_.push_back(b.rho);
  }
  if (!progress_label.empty())
    progress.finish(fmt::format("{} support vectors ({})", format_count(next), parameters.describe()));
  return svm;
}

std::vector<float> OneVsRestSvm::decision_values(const FeatureMatrix& rows) const {
  const int64_t num_classes = int64_t(classes_.size());
  std::vector<float> out(size_t(rows.rows * num_classes));
  if (rows.rows == 0) return out;
  const FeatureMatrix scaled = scaling_.apply(rows);
  Matrix values = Matrix::Zero(rows.rows, num_classes);
  if (support_vectors_.rows > 0) {
    const Matrix alpha = FloatRows(coefficients_.data(), num_classes, support_vectors_.rows).cast<double>();
    values = kernel_matrix(scaled, support_vectors_, parameters_) * alpha.transpose();
  }
  for (int64_t i = 0; i < rows.rows; ++i)
    for (int64_t c = 0; c < num_classes; ++c) out[size_t(i * num_classes + c)] = float(values(i, c) - rho_[size_t(c)]);
  return out;
}

void OneVsRestSvm::save(const std::string& path, const nlohmann::json& about) const {
  const int64_t n = support_vectors_.rows, d = dims(), k = int64_t(classes_.size());
  Safetensors file;
  file.tensors["support_vectors"] = Tensor::from_vector(support_vectors_.values, {n, d});
  file.tensors["coefficients"] = Tensor::from_vector(coefficients_, {k, n});
  file.tensors["rho"] = Tensor::from_vector(rho_, {k});
  file.tensors["scale.min"] = Tensor::from_vector(scaling_.min, {d});
  file.tensors["scale.range"] = Tensor::from_vector(scaling_.range, {d});
  nlohmann::json metadata = about;
  metadata["format"] = "i2v one-vs-rest SVM";
  metadata["parameters"] = parameters_.to_json();
  metadata["classes"] = classes_;
  file.metadata["i2v.svm"] = metadata.dump();
  save_safetensors(path, file);
}

OneVsRestSvm OneVsRestSvm::load(const std::string& path) {
  const Safetensors file = load_safetensors(path);
  auto metadata = file.metadata.find("i2v.svm");
  I2V_CHECK(metadata != file.metadata.end(), "{}: not an SVM file of `i2v svm train` (no i2v.svm metadata)", path);
  OneVsRestSvm svm;
  try {
    svm.about_ = nlohmann::json::parse(metadata->second);
    const nlohmann::json& p = svm.about_.at("parameters");
    svm.parameters_ = {parse_svm_kernel(p.at("kernel").get<std::string>()), p.at("C").get<double>(),
                       p.at("gamma").get<double>(), p.at("coef0").get<double>()};
    svm.classes_ = svm.about_.at("classes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    I2V_THROW("{}: unreadable i2v.svm metadata ({})", path, e.what());
  }
  const int64_t k = int64_t(svm.classes_.size());
  auto tensor = [&](const char* name) -> const Tensor& {
    auto it = file.tensors.find(name);
    I2V_CHECK(it != file.tensors.end(), "{}: no tensor {}", path, name);
    return it->second;
  };
  const Tensor& support = tensor("support_vectors");
  I2V_CHECK(support.dim() == 2, "{}: support_vectors is {}, not [S, D]", path, shape_str(support.shape()));
  const int64_t n = support.size(0), d = support.size(1);
  check_shapes(file.tensors,
               {{"support_vectors", {n, d}}, {"coefficients", {k, n}}, {"rho", {k}}, {"scale.min", {d}}, {"scale.range", {d}}},
               path);
  svm.support_vectors_ = {support.to_vector<float>(), n, d};
  svm.coefficients_ = tensor("coefficients").to_vector<float>();
  svm.rho_ = tensor("rho").cast(DType::f64).to_vector<double>();
  svm.scaling_.min = tensor("scale.min").to_vector<float>();
  svm.scaling_.range = tensor("scale.range").to_vector<float>();
  return svm;
}

const ConfigSection<SvmGrid>& SvmGrid::config_fields() {
  // No defaults here: SvmGrid's own stay.
  static const ConfigSection<SvmGrid> fields = {
      {"kernels", "list of strings", nullptr,
       [](const nlohmann::json& value, SvmGrid& grid) {
         grid.kernels.clear();
         for (const auto& name : value) grid.kernels.push_back(parse_svm_kernel(name.get<std::string>()));
       }},
      {"C", nullptr, &SvmGrid::c},
      {"gamma", nullptr, &SvmGrid::gamma},
      {"coef0", nullptr, &SvmGrid::coef0},
      {"folds", nullptr, &SvmGrid::folds},
      {"seed", nullptr, &SvmGrid::seed},
  };
  return fields;
}

SvmGrid SvmGrid::from_json(const nlohmann::json& json) {
  SvmGrid grid;
  config_fields().read(json, "transfer.svm", grid);
  I2V_CHECK(!grid.kernels.empty() && !grid.c.empty() && !grid.gamma.empty(), "SVM grid: give kernels, C and gamma");
  for (double c : grid.c) I2V_CHECK(c > 0, "SVM grid: C must be positive, got {}", c);
  for (double g : grid.gamma) I2V_CHECK(g > 0, "SVM grid: gamma must be positive, got {}", g);
  I2V_CHECK(grid.folds >= 2, "SVM grid: cross-validation needs at least 2 folds, got {}", grid.folds);
  return grid;
}

nlohmann::json SvmGrid::to_json() const {
  std::vector<std::string> names;
  for (SvmKernel k : kernels) names.push_back(svm_kernel_name(k));
  return {{"kernels", names}, {"C", c}, {"gamma", gamma}, {"coef0", coef0}, {"folds", folds}, {"seed", seed}};
}

std::vector<int> stratified_folds(const std::vector<int64_t>& labels, int folds, uint64_t seed) {
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(int64_t(i));
  std::vector<int> fold(labels.size(), 0);
  for (auto& [label, rows] : by_class) {
    Rng rng(mix_seed(seed, uint64_t(label)));
    shuffle(rows.data(), int64_t(rows.size()), rng);
    for (size_t position = 0; position < rows.size(); ++position) fold[size_t(rows[position])] = int(position % size_t(folds));
  }
  return fold;
}

GridSearch grid_search(const FeatureMatrix& rows, const std::vector<int64_t>& labels, int64_t classes,
                       const SvmGrid& grid, const std::string& progress_label) {
  check_training_rows(rows, labels, classes);
  svm_set_print_string_function(quiet);
  const FeatureMatrix scaled = FeatureScaling::fit(rows).apply(rows);
  const Matrix x = as_matrix(scaled);
  const Matrix dots = x * x.transpose();
  const Eigen::VectorXd norms = x.rowwise().squaredNorm();
  const std::vector<int> fold = stratified_folds(labels, grid.folds, grid.seed);
  const int64_t num_c = int64_t(grid.c.size());

  Progress progress(progress_label, grid.points() * grid.folds * classes, "SVMs");
  int64_t done = 0;
  GridSearch search;
  for (SvmKernel kernel : grid.kernels)
    for (double gamma : grid.gamma) {
      const SvmParameters base{kernel, 1.0, gamma, grid.coef0};
      const Matrix gram = kernel_from_dots(dots, norms, norms, base);
      // Held-out decision values of every row, for each C.
      std::vector<Matrix> held_out(size_t(num_c), Matrix::Zero(rows.rows, classes));
      for (int f = 0; f < grid.folds; ++f) {
        std::vector<int64_t> train_rows, test_rows;
        for (int64_t i = 0; i < rows.rows; ++i) (fold[size_t(i)] == f ? test_rows : train_rows).push_back(i);
        PrecomputedProblem problem(gram, train_rows);
#pragma omp parallel for schedule(dynamic)
        for (int64_t job = 0; job < num_c * classes; ++job) {
          SvmParameters p = base;
          p.c = grid.c[size_t(job / classes)];
          const int64_t c = job % classes;
          const BinarySvm b = train_binary(problem, one_vs_rest_targets(labels, train_rows, c), p);
          for (int64_t row : test_rows) {
            double value = -b.rho;
            for (size_t i = 0; i < b.support.size(); ++i) value += b.alpha[i] * gram(row, train_rows[size_t(b.support[i])]);
            held_out[size_t(job / classes)](row, c) = value;
          }
#pragma omp critical
          if (!progress_label.empty()) progress.update(++done, fmt::format("{}, gamma {}, fold {}", svm_kernel_name(kernel), number(gamma), f + 1));
        }
      }
      for (int64_t ci = 0; ci < num_c; ++ci) {
        const Matrix& values = held_out[size_t(ci)];
        const std::vector<float> scores(values.data(), values.data() + values.size());
        SvmParameters p = base;
        p.c = grid.c[size_t(ci)];
        search.points.push_back({p, top_k_accuracy(scores, labels, rows.rows, classes, 1).overall});
      }
    }
  search.best = search.points.front();
  for (const GridPoint& point : search.points)
    if (point.cv_top1 > search.best.cv_top1) search.best = point;
  if (!progress_label.empty())
    progress.finish(fmt::format("best {} (cross-validated top-1 {:.2f}%)", search.best.parameters.describe(),
                                100 * search.best.cv_top1));
  return search;
}

nlohmann::json GridSearch::to_json() const {
  nlohmann::json points_json = nlohmann::json::array();
  for (const GridPoint& point : points) {
    nlohmann::json p = point.parameters.to_json();
    p["cv_top1"] = point.cv_top1;
    points_json.push_back(p);
  }
  nlohmann::json best_json = best.parameters.to_json();
  best_json["cv_top1"] = best.cv_top1;
  return {{"best", best_json}, {"points", points_json}};
}

std::string GridSearch::table() const {
  // Columns: the C values in the order of the points.
  std::vector<double> cs;
  for (const GridPoint& point : points)
    if (std::find(cs.begin(), cs.end(), point.parameters.c) == cs.end()) cs.push_back(point.parameters.c);
  std::string text = fmt::format("{:<8} {:>8} ", "kernel", "gamma");
  for (double c : cs) text += fmt::format(" {:>8}", "C " + number(c));
  text += "\n";
  for (size_t i = 0; i < points.size(); i += cs.size()) {
    text += fmt::format("{:<8} {:>8} ", svm_kernel_name(points[i].parameters.kernel), number(points[i].parameters.gamma));
    for (size_t j = 0; j < cs.size() && i + j < points.size(); ++j) {
      const GridPoint& point = points[i + j];
      const bool is_best = point.parameters.kernel == best.parameters.kernel && point.parameters.gamma == best.parameters.gamma &&
                           point.parameters.c == best.parameters.c;
      text += fmt::format(" {:>7.2f}{}", 100 * point.cv_top1, is_best ? "*" : " ");
    }
    text += "\n";
  }
  return text + "(cross-validated top-1 precision, %; * the best)\n";
}

OneVsRestSvm train_svm(const FeatureSet& train, const SvmGrid& grid, const std::string& path) {
  const int64_t classes = int64_t(train.classes.size());
  std::fprintf(stderr, "svm: %s training rows of %lld features, %lld classes; grid of %lld points, %d-fold "
               "cross-validation\n", format_count(train.features.rows).c_str(), static_cast<long long>(train.features.dims),
               static_cast<long long>(classes), static_cast<long long>(grid.points()), grid.folds);
  const GridSearch search = grid_search(train.features, train.labels, classes, grid, "svm grid");
  std::fputs(search.table().c_str(), stderr);
  OneVsRestSvm svm = OneVsRestSvm::train(train.features, train.labels, train.classes, search.best.parameters, "svm");
  nlohmann::json about = {{"grid", grid.to_json()}, {"search", search.to_json()}, {"features", train.about},
                          {"training_rows", train.features.rows}};
  svm.save(path, about);
  return OneVsRestSvm::load(path);
}

}  // namespace i2v
