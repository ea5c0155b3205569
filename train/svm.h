// Support vector machines on features, as Lagunas & Garces classify a network's fc7 features:
// one-vs-rest (one binary C-SVM per class, the class against all the others — trained here, since
// libsvm's own multi-class scheme is one-vs-one), an RBF or sigmoid kernel, and the kernel, C and
// γ chosen by a grid search with k-fold cross-validation on the training rows.
//
// Kernels, on scaled features x, y:
//   rbf      K(x, y) = exp(−γ ‖x − y‖²)
//   sigmoid  K(x, y) = tanh(γ ⟨x, y⟩ + coef0)
// Scaling, as libsvm's guide recommends (Hsu, Chang & Lin, "A Practical Guide to Support Vector
// Classification", §2.2; its svm-scale -l 0 -u 1): each feature is mapped linearly to [0, 1] by
// its minimum and maximum over the training rows, and later rows by the same map (they may fall
// outside [0, 1]). Features after a ReLU are ≥ 0, so their zeros stay zeros; a feature constant
// over the training rows maps to 0.
//
// libsvm (Debian's libsvm-dev) is the solver. Every binary SVM is trained on a precomputed kernel
// matrix, computed once per kernel and γ with Eigen and shared by every class, fold and C. The
// decision value of class c for a row x is
//   f_c(x) = Σ_i α_ci K(x, s_i) − ρ_c          (positive: x is taken for class c)
// over the support vectors s_i; a row's top-k classes are its k largest f_c. A class without a
// training row gets f_c = −1e30.
//
// Cross-validation: the folds are stratified (each class's rows shuffled with the seed, then dealt
// round-robin), the score of a grid point is the top-1 precision over all held-out rows, and ties
// go to the earlier point (kernels in the given order, then smaller γ, then smaller C). As libsvm's
// grid.py does, the scaling is fitted once on all the training rows.
//
// Memory: a problem of n rows holds its n × n kernel matrix twice (Eigen and libsvm's nodes,
// 8 + 16 bytes an entry): about 2.4 GB at n = 10,000. The paper's curated set has 2,600.
//
// File (safetensors, written atomically; numpy reads it with scripts/safetensors_reference.py):
//   "support_vectors" f32 [S, D]   the scaled training rows that support any class's SVM
//   "coefficients"    f32 [C, S]   α_ci (0 where s_i does not support class c)
//   "rho"             f64 [C]      ρ_c
//   "scale.min", "scale.range" f32 [D]
//   metadata "i2v.svm": {"kernel", "C", "gamma", "coef0", "classes", ...} (JSON), with whatever
//   else the caller adds (the grid search's scores, where the features came from).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/config_fields.h"
#include "train/feature_set.h"

namespace i2v {

enum class SvmKernel { rbf, sigmoid };
const char* svm_kernel_name(SvmKernel kernel);  // "rbf", "sigmoid"
SvmKernel parse_svm_kernel(const std::string& name);

struct SvmParameters {
  SvmKernel kernel = SvmKernel::rbf;
  double c = 1.0;
  double gamma = 1e-3;
  double coef0 = 0.0;  // sigmoid only
  std::string describe() const;  // "rbf, C 10, gamma 0.0001"
  nlohmann::json to_json() const;
};

// Per-feature min-max scaling to [0, 1], fitted on training rows.
struct FeatureScaling {
  std::vector<float> min, range;  // range 0: a constant feature
  static FeatureScaling fit(const FeatureMatrix& rows);
  FeatureMatrix apply(const FeatureMatrix& rows) const;
};

class OneVsRestSvm {
 public:
  // One binary SVM per class on `rows` (unscaled) with class `labels` in [0, classes.size()).
  // `progress_label` names a progress line ("" for none).
  static OneVsRestSvm train(const FeatureMatrix& rows, const std::vector<int64_t>& labels,
                            std::vector<std::string> classes, const SvmParameters& parameters,
                            const std::string& progress_label = "");
  static OneVsRestSvm load(const std::string& path);
  // `about` goes into the metadata beside the parameters and classes.
  void save(const std::string& path, const nlohmann::json& about = nlohmann::json::object()) const;

  // [rows × classes] decision values f_c, row-major.
  std::vector<float> decision_values(const FeatureMatrix& rows) const;

  const SvmParameters& parameters() const { return parameters_; }
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t dims() const { return int64_t(scaling_.min.size()); }
  int64_t support_vectors() const { return support_vectors_.rows; }
  // What save() was given, read back by load().
  const nlohmann::json& about() const { return about_; }

 private:
  SvmParameters parameters_;
  std::vector<std::string> classes_;
  FeatureScaling scaling_;
  FeatureMatrix support_vectors_;   // scaled
  std::vector<float> coefficients_;  // classes × support vectors
  std::vector<double> rho_;
  nlohmann::json about_ = nlohmann::json::object();
};

// The grid of the search. The defaults span libsvm's guide's range at every power of ten.
struct SvmGrid {
  std::vector<SvmKernel> kernels = {SvmKernel::rbf, SvmKernel::sigmoid};
  std::vector<double> c = {0.1, 1, 10, 100, 1000};
  std::vector<double> gamma = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1};
  double coef0 = 0.0;
  int folds = 3;
  uint64_t seed = 1;

  // {"kernels": ["rbf", "sigmoid"], "C": [...], "gamma": [...], "coef0": 0, "folds": 3, "seed": 1};
  // missing fields keep the defaults.
  static SvmGrid from_json(const nlohmann::json& json);
  // The table from_json reads with (base/config_fields.h).
  static const ConfigSection<SvmGrid>& config_fields();
  nlohmann::json to_json() const;
  int64_t points() const { return int64_t(kernels.size() * c.size() * gamma.size()); }
};

struct GridPoint {
  SvmParameters parameters;
  double cv_top1 = 0;  // top-1 precision over the held-out rows of every fold
};

struct GridSearch {
  std::vector<GridPoint> points;  // in grid order
  GridPoint best;
  nlohmann::json to_json() const;
  // One line per kernel and γ, one column per C: readable on a terminal.
  std::string table() const;
};

GridSearch grid_search(const FeatureMatrix& rows, const std::vector<int64_t>& labels, int64_t classes,
                       const SvmGrid& grid, const std::string& progress_label = "");

// The SVM experiment on the rows of one split: a grid search on `train` (printed on stderr), then
// the SVMs of the best point trained on all of it and saved to `path` (with the search's scores
// and the features' description).
OneVsRestSvm train_svm(const FeatureSet& train, const SvmGrid& grid, const std::string& path);

// Fold (0 .. folds-1) of each row: per class, the rows in a seeded shuffle dealt round-robin.
std::vector<int> stratified_folds(const std::vector<int64_t>& labels, int folds, uint64_t seed);

}  // namespace i2v
