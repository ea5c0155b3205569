// One-vs-rest SVMs on features (train/svm.h) and the precision tables of Lagunas & Garces
// (train/precision_table.h): separable classes are learned exactly, shuffled labels stay at
// chance, the precomputed-kernel training agrees with libsvm's own kernels, files round-trip,
// and top-k precision matches values computed by hand.
#include <svm.h>

#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/random.h"
#include "tests/temp_directory.h"
#include "tests/test_util.h"
#include "base/atomic_file.h"
#include "train/metrics.h"
#include "train/precision_table.h"
#include "train/svm.h"

namespace i2v {
namespace {

// `per_class` rows of each of `classes` Gaussian blobs in `dims` dimensions, centres `spread`
// apart (ReLU-like: non-negative, as fc7 features are).
struct Blobs {
  FeatureMatrix rows;
  std::vector<int64_t> labels;
};

Blobs blobs(int64_t classes, int64_t per_class, int64_t dims, double spread, uint64_t seed) {
  Rng centres(seed), noise(mix_seed(seed, 1));
  std::vector<std::vector<double>> centre(static_cast<size_t>(classes), std::vector<double>(static_cast<size_t>(dims)));
  for (auto& c : centre)
    for (double& v : c) v = spread * centres.uniform();
  Blobs b;
  b.rows.dims = dims;
  for (int64_t i = 0; i < per_class; ++i)
    for (int64_t c = 0; c < classes; ++c) {
      for (int64_t d = 0; d < dims; ++d)
        b.rows.values.push_back(float(std::max(0.0, centre[size_t(c)][size_t(d)] + noise.normal())));
      b.labels.push_back(c);
      ++b.rows.rows;
    }
  return b;
}

uint64_t seed_of_test() { return test::test_rng()(); }

std::vector<std::string> class_names(int64_t classes) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) names.push_back("class" + std::to_string(c));
  return names;
}

double top1(const OneVsRestSvm& svm, const Blobs& test) {
  const std::vector<float> scores = svm.decision_values(test.rows);
  return top_k_accuracy(scores, test.labels, test.rows.rows, int64_t(svm.classes().size()), 1).overall;
}

TEST(Svm, SeparableClassesAreLearnedExactly) {
  const uint64_t seed = seed_of_test();
  // The same centres for training and test (same seed), fresh noise for the test rows.
  const Blobs train = blobs(4, 15, 20, 12.0, seed), test = blobs(4, 10, 20, 12.0, seed);
  SvmGrid grid;
  grid.c = {1, 10};
  grid.gamma = {1e-2, 1e-1};
  const GridSearch search = grid_search(train.rows, train.labels, 4, grid);
  EXPECT_EQ(search.points.size(), 8u);
  EXPECT_EQ(search.best.cv_top1, 1.0) << search.table();
  const OneVsRestSvm svm = OneVsRestSvm::train(train.rows, train.labels, class_names(4), search.best.parameters);
  EXPECT_EQ(top1(svm, test), 1.0);
  EXPECT_EQ(top1(svm, train), 1.0);
}

TEST(Svm, ShuffledLabelsStayNearChance) {
  const uint64_t seed = seed_of_test();
  // No relation between rows and labels: the labels are a seeded shuffle.
  Blobs train = blobs(4, 50, 20, 12.0, seed), test = blobs(4, 50, 20, 12.0, mix_seed(seed, 2));
  Rng rng(mix_seed(seed, 3));
  shuffle(train.labels.data(), int64_t(train.labels.size()), rng);
  shuffle(test.labels.data(), int64_t(test.labels.size()), rng);
  SvmGrid grid;
  grid.c = {1, 100};
  grid.gamma = {1e-2};
  const GridSearch search = grid_search(train.rows, train.labels, 4, grid);
  const OneVsRestSvm svm = OneVsRestSvm::train(train.rows, train.labels, class_names(4), search.best.parameters);
  // Chance is 1/4; 200 test rows give a standard deviation of 0.03.
  EXPECT_NEAR(top1(svm, test), 0.25, 0.13);
  EXPECT_NEAR(search.best.cv_top1, 0.25, 0.13);
}

// libsvm's own RBF and sigmoid kernels on the scaled rows give the decision values of the
// precomputed-kernel training, class by class.
TEST(Svm, AgreesWithLibsvmsOwnKernels) {
  const uint64_t seed = seed_of_test();
  const Blobs train = blobs(3, 12, 6, 3.0, seed), test = blobs(3, 5, 6, 3.0, seed);
  for (const SvmParameters& p : {SvmParameters{SvmKernel::rbf, 10, 0.5, 0}, SvmParameters{SvmKernel::sigmoid, 1, 0.2, 0.1}}) {
    const OneVsRestSvm svm = OneVsRestSvm::train(train.rows, train.labels, class_names(3), p);
    const std::vector<float> ours = svm.decision_values(test.rows);
    const FeatureScaling scaling = FeatureScaling::fit(train.rows);
    auto nodes = [](const FeatureMatrix& rows) {
      std::vector<std::vector<svm_node>> out;
      for (int64_t i = 0; i < rows.rows; ++i) {
        std::vector<svm_node> row;
        for (int64_t d = 0; d < rows.dims; ++d) row.push_back({int(d + 1), double(rows.row(i)[d])});
        row.push_back({-1, 0.0});
        out.push_back(row);
      }
      return out;
    };
    std::vector<std::vector<svm_node>> train_nodes = nodes(scaling.apply(train.rows)), test_nodes = nodes(scaling.apply(test.rows));
    std::vector<svm_node*> x;
    for (auto& row : train_nodes) x.push_back(row.data());
    for (int64_t c = 0; c < 3; ++c) {
      std::vector<double> y;
      for (int64_t label : train.labels) y.push_back(label == c ? 1.0 : -1.0);
      svm_problem problem{int(y.size()), y.data(), x.data()};
      svm_parameter param{};
      param.svm_type = C_SVC;
      param.kernel_type = p.kernel == SvmKernel::rbf ? RBF : SIGMOID;
      param.gamma = p.gamma;
      param.coef0 = p.coef0;
      param.C = p.c;
      param.eps = 1e-3;
      param.cache_size = 10;
      param.shrinking = 1;
      svm_model* model = svm_train(&problem, &param);
      int labels[2];
      svm_get_labels(model, labels);
      for (int64_t i = 0; i < test.rows.rows; ++i) {
        double value = 0;
        svm_predict_values(model, test_nodes[size_t(i)].data(), &value);
        if (labels[0] != 1) value = -value;
        EXPECT_NEAR(ours[size_t(i * 3 + c)], value, 2e-3 * std::max(1.0, std::fabs(value)))
            << p.describe() << ", class " << c << ", row " << i;
      }
      svm_free_and_destroy_model(&model);
    }
  }
}

class SvmFile : public test::TempDirectoryTest {};

TEST_F(SvmFile, SavedSvmsGiveTheSameDecisionValues) {
  const Blobs train = blobs(3, 10, 8, 6.0, seed_of_test());
  const OneVsRestSvm svm = OneVsRestSvm::train(train.rows, train.labels, {"a", "b", "c"}, {SvmKernel::sigmoid, 10, 1e-2, 0});
  svm.save(path("svm.safetensors"), {{"note", "test"}});
  const OneVsRestSvm back = OneVsRestSvm::load(path("svm.safetensors"));
  EXPECT_EQ(back.decision_values(train.rows), svm.decision_values(train.rows));
  EXPECT_EQ(back.classes(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(back.parameters().kernel, SvmKernel::sigmoid);
  EXPECT_EQ(back.about().at("note"), "test");
  EXPECT_GT(back.support_vectors(), 0);
  write_file_atomically(path("other.safetensors"), read_file(path("svm.safetensors")).substr(0, 100));
  EXPECT_THROW(OneVsRestSvm::load(path("other.safetensors")), Error);
}

TEST(Svm, RefusesRowsWithoutALabelAndSingleClasses) {
  Blobs train = blobs(2, 5, 3, 4.0, 1);
  train.labels[3] = -1;
  EXPECT_THROW(OneVsRestSvm::train(train.rows, train.labels, class_names(2), {}), Error);
  train.labels.assign(train.labels.size(), 0);
  EXPECT_THROW(grid_search(train.rows, train.labels, 2, SvmGrid{}), Error);
  EXPECT_THROW(SvmGrid::from_json({{"C", {0}}}), Error);
  EXPECT_THROW(SvmGrid::from_json({{"kernels", {"poly"}}}), Error);
}

TEST(StratifiedFolds, SpreadEachClassEvenlyAndFollowTheSeed) {
  std::vector<int64_t> labels;
  for (int i = 0; i < 40; ++i) labels.push_back(i % 3 == 0 ? 0 : (i % 3 == 1 ? 1 : 2));
  labels.push_back(1);
  const std::vector<int> folds = stratified_folds(labels, 3, 7);
  for (int64_t c = 0; c < 3; ++c) {
    std::vector<int> count(3, 0);
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == c) ++count[size_t(folds[i])];
    EXPECT_LE(*std::max_element(count.begin(), count.end()) - *std::min_element(count.begin(), count.end()), 1);
  }
  EXPECT_EQ(stratified_folds(labels, 3, 7), folds);
  EXPECT_NE(stratified_folds(labels, 3, 8), folds);
}

// Six classes, four pictures, scores chosen by hand:
//   picture 0, class 0: its class scores highest                    top-1 yes, top-5 yes
//   picture 1, class 1: two classes score higher                     top-1 no,  top-5 yes
//   picture 2, class 1: every other class scores higher (rank 6)     top-1 no,  top-5 no
//   picture 3, class 2: tied with class 0, which wins (lower index)  top-1 no,  top-5 yes
TEST(PrecisionTable, TopOneAndTopFiveByHand) {
  const std::vector<float> scores = {
      0.9f, 0.1f, 0.0f, 0.0f, 0.0f, 0.0f,  //
      0.5f, 0.3f, 0.4f, 0.1f, 0.2f, 0.0f,  //
      0.2f, 0.0f, 0.3f, 0.4f, 0.5f, 0.6f,  //
      0.7f, 0.1f, 0.7f, 0.2f, 0.3f, 0.0f};
  PrecisionTable table({"a", "b", "c", "d", "e", "f"}, {0, 1, 1, 2});
  table.add("hand", scores);
  const PrecisionRow& row = table.row("hand");
  EXPECT_DOUBLE_EQ(row.top1, 0.25);
  EXPECT_DOUBLE_EQ(row.top5, 0.75);
  EXPECT_DOUBLE_EQ(row.top1_per_class[0], 1.0);
  EXPECT_DOUBLE_EQ(row.top5_per_class[0], 1.0);
  EXPECT_DOUBLE_EQ(row.top1_per_class[1], 0.0);
  EXPECT_DOUBLE_EQ(row.top5_per_class[1], 0.5);
  EXPECT_DOUBLE_EQ(row.top1_per_class[2], 0.0);
  EXPECT_DOUBLE_EQ(row.top5_per_class[2], 1.0);
  EXPECT_TRUE(std::isnan(row.top1_per_class[3])) << "a class without a test picture has no precision";
  EXPECT_EQ(table.pictures_per_class(), (std::vector<int64_t>{1, 2, 1, 0, 0, 0}));

  EXPECT_EQ(table.overall_csv(), "classifier,top1,top5,test_pictures\nhand,0.250000,0.750000,4\n");
  const std::string per_class = table.per_class_csv();
  EXPECT_NE(per_class.find("class,pictures,hand top1,hand top5\n"), std::string::npos) << per_class;
  EXPECT_NE(per_class.find("\nb,2,0.000000,0.500000\n"), std::string::npos) << per_class;
  EXPECT_NE(per_class.find("\nd,0,,\n"), std::string::npos) << per_class;
  EXPECT_NE(per_class.find("\nglobal,4,0.250000,0.750000\n"), std::string::npos) << per_class;
  EXPECT_NE(table.overall_text().find("25.00"), std::string::npos) << table.overall_text();
  EXPECT_NE(table.per_class_text().find("global"), std::string::npos);
  EXPECT_TRUE(table.to_json().at("rows")[0].at("per_class")[3].at("top1").is_null());
  EXPECT_THROW(table.add("short", {0.5f}), Error);
  EXPECT_THROW(PrecisionTable({"a"}, {1}), Error);
}

}  // namespace
}  // namespace i2v
