// What the tagger's outputs mean: plausible tags as the original release gives them, mAP per
// category with its baseline, and the hash bit order.
#include <cmath>

#include <gtest/gtest.h>

#include "base/error.h"
#include "index/hashing.h"
#include "train/tagging.h"

namespace i2v {
namespace {

const std::vector<ModelOutput> kOutputs = {{"smile", "general"},      {"open_mouth", "general"}, {"hatsune_miku", "character"},
                                           {"vocaloid", "copyright"}, {"safe", "rating"},         {"questionable", "rating"},
                                           {"explicit", "rating"}};

TEST(PlausibleTags, ThresholdOrderAndRatingsAsTheRelease) {
  const float p[] = {0.3f, 0.9f, 0.1f, 0.25f, 0.7f, 0.2f, 0.1f};
  const PlausibleTags tags = estimate_plausible_tags(p, kOutputs, 0.25f);
  ASSERT_EQ(tags.general.size(), 2u);
  EXPECT_EQ(tags.general[0].first, "open_mouth") << "most probable first";
  EXPECT_EQ(tags.general[1].first, "smile");
  EXPECT_TRUE(tags.character.empty()) << "0.1 is under the threshold";
  ASSERT_EQ(tags.copyright.size(), 1u) << "the threshold is inclusive";
  ASSERT_EQ(tags.rating.size(), 3u) << "ratings are never thresholded";
  EXPECT_EQ(tags.rating[0].first, "safe");
  EXPECT_EQ(estimate_plausible_tags(p, kOutputs, 0.25f, 1).general.size(), 1u);
  const nlohmann::json json = to_json(tags);
  EXPECT_EQ(json.at("general").at(0).at(0), "open_mouth");
  EXPECT_FLOAT_EQ(json.at("general").at(0).at(1).get<float>(), 0.9f);
  for (const char* key : {"general", "character", "copyright", "rating"}) EXPECT_TRUE(json.at(key).is_array()) << key;
  EXPECT_NE(to_text(tags).find("open mouth 0.90"), std::string::npos) << "names print with spaces";
}

TEST(TagEvaluation, MapPerCategoryAndBaselineByHand) {
  // 4 pictures x 7 outputs.
  Evaluation e;
  e.kind = TargetKind::multi_label;
  e.samples = 4;
  e.classes = 7;
  e.scores = {0.9f, 0.1f, 0.8f, 0.2f, 0.9f, 0.1f, 0.0f,   //
              0.2f, 0.7f, 0.1f, 0.9f, 0.9f, 0.1f, 0.0f,   //
              0.6f, 0.3f, 0.3f, 0.4f, 0.9f, 0.1f, 0.0f,   //
              0.1f, 0.8f, 0.2f, 0.3f, 0.9f, 0.1f, 0.0f};
  e.labels = {1, 0, 1, 0, 1, 0, 0,  //
              0, 1, 0, 1, 1, 0, 0,  //
              1, 0, 0, 0, 1, 0, 0,  //
              0, 0, 0, 1, 1, 0, 0};
  const TagEvaluation t = evaluate_tags(e, kOutputs);
  // smile: positives 0 and 2 ranked first and second: AP 1. open_mouth: scores 0.8 (-), 0.7 (+):
  // AP 0.5. general mAP 0.75; baseline = share of positives: (2/4 + 1/4) / 2 = 0.375.
  EXPECT_EQ(t.categories[0].category, "general");
  EXPECT_DOUBLE_EQ(t.categories[0].map, 0.75);
  EXPECT_DOUBLE_EQ(t.categories[0].baseline, 0.375);
  // character: one positive ranked first: 1. copyright: positives at 0.9 and 0.3, with 0.4 (-)
  // between: (1 + 2/3) / 2.
  EXPECT_DOUBLE_EQ(t.categories[1].map, 1.0);
  EXPECT_NEAR(t.categories[2].map, (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
  // rating: only "safe" has positives (all tie at 0.9: AP 1); the other two are left out.
  EXPECT_EQ(t.categories[3].category, "rating");
  EXPECT_EQ(t.categories[3].evaluated, 1);
  EXPECT_EQ(t.categories[4].category, "all");
  EXPECT_EQ(t.categories[4].evaluated, 5);
  EXPECT_EQ(t.per_tag[0].name, "safe") << "most frequent first";
  EXPECT_EQ(to_json(t).at("categories").at(3).at("tags_without_positives"), 2);
}

TEST(Hashing, BitsArePackedMostSignificantFirstAsNumpy) {
  // numpy.packbits([1,0,0,0,0,0,0,0, 0,1,0,0,0,0,0,0]) == [0x80, 0x40]
  std::vector<float> activations(16, -1.0f);
  activations[0] = 0.3f;
  activations[9] = 2.0f;
  activations[5] = 0.0f;  // not positive: 0
  const std::vector<uint8_t> packed = pack_signs(Tensor::from_vector(activations, {1, 16}));
  EXPECT_EQ(packed, (std::vector<uint8_t>{0x80, 0x40}));
  EXPECT_THROW(pack_signs(Tensor::zeros({2, 12})), Error);
}

}  // namespace
}  // namespace i2v
