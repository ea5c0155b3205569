// What the tagger's outputs mean: plausible tags as the original release gives them, mAP per
// category with its baseline, and the hash bit order.
#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "base/error.h"
#include "index/hashing.h"
#include "train/captions.h"
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

// Outputs of a small vocabulary, and one picture's probabilities for them.
const std::vector<ModelOutput> kCaptionOutputs = {
    {"long_hair", "general"}, {"smile", "general"},   {"^_^", "general"},       {"blue_eyes", "general"},
    {"solo", "general"},      {"hatsune_miku", "character"}, {"vocaloid", "copyright"}, {"safe", "rating"},
    {"questionable", "rating"}};
const std::vector<float> kCaptionProbabilities = {0.90f, 0.60f, 0.40f, 0.05f, 0.70f, 0.95f, 0.50f, 0.30f, 0.70f};

std::vector<std::string> caption_with(const std::function<void(CaptionOptions&)>& set) {
  CaptionOptions options;
  set(options);
  return caption_tags(kCaptionProbabilities.data(), kCaptionOutputs, options);
}

using Tags = std::vector<std::string>;

TEST(Captions, ThresholdsPerCategoryMostProbableFirst) {
  // General at 0.35 (long_hair, solo, smile, ^_^), characters and copyrights at 0.85.
  EXPECT_EQ(caption_with([](CaptionOptions&) {}), (Tags{"long_hair", "solo", "smile", "^_^", "hatsune_miku"}));
  EXPECT_EQ(caption_with([](CaptionOptions& o) {
              o.general_threshold = 0.65f;
              o.character_threshold = 0.5f;
            }),
            (Tags{"long_hair", "solo", "hatsune_miku", "vocaloid"}));
}

TEST(Captions, OrderingRatingUnderscoresAndKeepFirst) {
  EXPECT_EQ(caption_with([](CaptionOptions& o) {
              o.character_first = true;
              o.rating = true;
              o.replace_underscores = true;
            }),
            (Tags{"questionable", "hatsune miku", "long hair", "solo", "smile", "^_^"}));
  // Moved to the front in the order given, matched with spaces or underscores; absent ones ignored.
  EXPECT_EQ(caption_with([](CaptionOptions& o) { o.keep_first = {"smile", "hatsune miku", "not_there"}; }),
            (Tags{"smile", "hatsune_miku", "long_hair", "solo", "^_^"}));
}

TEST(Captions, ExclusionAndTheCapKeepTheMostProbable) {
  EXPECT_EQ(caption_with([](CaptionOptions& o) { o.exclude = {normalised_tag("Long_Hair"), "solo"}; }),
            (Tags{"smile", "^_^", "hatsune_miku"}));
  // The 3 most probable of both categories together: hatsune_miku 0.95, long_hair 0.9, solo 0.7.
  EXPECT_EQ(caption_with([](CaptionOptions& o) { o.top_k = 3; }), (Tags{"long_hair", "solo", "hatsune_miku"}));
}

TEST(Captions, McutCutsAtTheLargestGap) {
  // Sorted 0.9, 0.7, 0.6, 0.5, 0.1: the largest gap is 0.5 - 0.1.
  EXPECT_FLOAT_EQ(mcut_threshold({0.1f, 0.9f, 0.6f, 0.5f, 0.7f}), 0.3f);
  EXPECT_FLOAT_EQ(mcut_threshold({0.95f, 0.5f}), 0.725f);
  EXPECT_EQ(mcut_threshold({0.3f}), 1.0f);
  // General 0.9, 0.7, 0.6, 0.4, 0.05: cut at 0.225; characters and copyrights 0.95, 0.5: at 0.725.
  EXPECT_EQ(caption_with([](CaptionOptions& o) { o.mcut = true; }),
            (Tags{"long_hair", "solo", "smile", "^_^", "hatsune_miku"}));
}

TEST(Captions, AppendingKeepsTheExistingTagsFirst) {
  EXPECT_EQ(split_caption(" a,b ,, long hair \n"), (Tags{"a", "b", "long hair"}));
  EXPECT_EQ(split_caption(""), Tags{});
  EXPECT_EQ(merge_captions({"my_style", "long hair"}, {"long_hair", "smile"}), (Tags{"my_style", "long hair", "smile"}));
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
