// A config section read through its table (base/config_fields.h): values, defaults, types in
// words, and the errors that name the field.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/config_fields.h"
#include "base/error.h"

namespace i2v {
namespace {

using nlohmann::json;

struct Inner {
  double rate = -1;
};

struct Target {
  int64_t epochs = -1;
  std::string name = "kept";  // no default in the table: stays unless given
  std::vector<std::string> layers;
  std::optional<int64_t> size;
  Inner inner;
  bool skip = false;
};

const ConfigSection<Target>& fields() {
  static const ConfigSection<Target> table = {
      {"epochs", 10, &Target::epochs},
      {"name", nullptr, &Target::name},
      {"layers", json::array({"a"}), &Target::layers},
      {"size", nullptr, &Target::size},
      {"rate", 0.5, &Target::inner, &Inner::rate, ConfigRange{0, 10}},
      {"mode", "string", "stop",
       [](const json& value, Target& t) {
         const std::string mode = value.get<std::string>();
         I2V_CHECK(mode == "stop" || mode == "skip", "mode: stop or skip, got {}", mode);
         t.skip = mode == "skip";
       }},
      {"about", "any", nullptr, nullptr},  // allowed, read by someone else
  };
  return table;
}

std::string refusal(const json& object, const std::string& where = "loop") {
  try {
    Target t;
    fields().read(object, where, t);
  } catch (const Error& e) {
    return e.message();
  }
  return "accepted";
}

TEST(ConfigFields, ReadsGivenValuesAndDefaultsAndKeepsTheRest) {
  Target t;
  fields().read(json::object(), "loop", t);
  EXPECT_EQ(t.epochs, 10);
  EXPECT_EQ(t.name, "kept");
  EXPECT_EQ(t.layers, std::vector<std::string>{"a"});
  EXPECT_FALSE(t.size.has_value());
  EXPECT_EQ(t.inner.rate, 0.5);
  EXPECT_FALSE(t.skip);

  fields().read({{"epochs", 3}, {"name", "n"}, {"size", 64}, {"rate", 2.5}, {"mode", "skip"}, {"about", {1, 2}}},
                "loop", t);
  EXPECT_EQ(t.epochs, 3);
  EXPECT_EQ(t.name, "n");
  EXPECT_EQ(t.size, 64);
  EXPECT_EQ(t.inner.rate, 2.5);
  EXPECT_TRUE(t.skip);
}

TEST(ConfigFields, RefusesUnknownFieldsNamingTheNearest) {
  EXPECT_EQ(refusal({{"epoch", 3}}),
            "config field loop.epoch: unknown — did you mean \"epochs\"? (known here: epochs, name, layers, size, rate, "
            "mode, about; fields starting with '_' are comments)");
  EXPECT_EQ(refusal({{"epoch", 3}}, "").rfind("config field epoch: unknown", 0), 0u);  // the top level
  EXPECT_EQ(refusal({{"colour", 3}}).find("did you mean"), std::string::npos);
  EXPECT_EQ(refusal({{"_note", "a comment"}}), "accepted");
  EXPECT_EQ(refusal(json::array()), "config field loop: expected an object, got []");
}

TEST(ConfigFields, AValueOfTheWrongTypeNamesTheFieldAndTheValue) {
  const std::string message = refusal({{"epochs", "ten"}});
  EXPECT_EQ(message.rfind("config field loop.epochs: [json.exception.type_error.302]", 0), 0u) << message;
  EXPECT_NE(message.find("(got \"ten\")"), std::string::npos) << message;
  EXPECT_EQ(refusal({{"mode", "go"}}), "mode: stop or skip, got go");  // a reader's own errors pass as they are
}

// An integer field takes whole numbers that fit its type (JSON's 1e30 would otherwise become
// INT64_MIN, and 2.5 become 2); a row's range bounds the value; both name the field.
TEST(ConfigFields, IntegersMustFitAndNumbersStayInTheirRange) {
  Target t;
  fields().read({{"epochs", 1e3}, {"size", 9007199254740992.0}}, "loop", t);
  EXPECT_EQ(t.epochs, 1000);
  EXPECT_EQ(t.size, int64_t(1) << 53);
  for (const json& bad : {json(1e30), json(-1e30), json(2.5), json(9223372036854775808.0),
                          json(uint64_t(9223372036854775808ull))}) {
    const std::string message = refusal({{"epochs", bad}});
    EXPECT_EQ(message, "config field loop.epochs: must be a whole number from -9223372036854775808 to "
                       "9223372036854775807, got " + bad.dump());
  }
  EXPECT_EQ(refusal({{"rate", -1}}), "config field loop.rate: must be between 0 and 10, got -1");
  EXPECT_EQ(refusal({{"rate", 10.5}}), "config field loop.rate: must be between 0 and 10, got 10.5");
  EXPECT_EQ(refusal({{"rate", 10}}), "accepted");
}

TEST(ConfigFields, TypesInWordsFollowTheMembers) {
  std::vector<std::string> types;
  for (const ConfigFieldInfo& field : fields().fields()) types.push_back(field.type);
  EXPECT_EQ(types, (std::vector<std::string>{"integer", "string", "list of strings", "integer", "number", "string",
                                             "any"}));
  EXPECT_EQ(fields().fields()[0].default_value, 10);
  EXPECT_TRUE(fields().fields()[1].default_value.is_null());
}

TEST(ConfigFields, OnlyKeepsSomeRows) {
  const ConfigSection<Target> part = fields().only({"rate", "epochs"});
  ASSERT_EQ(part.fields().size(), 2u);
  EXPECT_EQ(part.fields()[0].name, "epochs");  // table order
  Target t;
  part.read({{"rate", 1.5}}, "part", t);
  EXPECT_EQ(t.inner.rate, 1.5);
  EXPECT_EQ(t.layers, std::vector<std::string>{});  // not part of it: not read
  EXPECT_THROW(part.check({{"name", "n"}}, "part"), Error);
  EXPECT_THROW(fields().only({"nothing"}), Error);
}

// Integers go into members of their own width: a value out of its range or with a fraction is
// refused naming the field (a float converted to an int out of range is undefined behaviour;
// found by fuzz/training_config_fuzz.cpp). Numbers written as floats with an integral value
// (1e3) are integers.
struct Counts {
  int steps = 0;
  uint64_t seed = 0;
  int64_t big = 0;
  std::vector<int64_t> milestones;
  std::optional<int64_t> size;
};

const ConfigSection<Counts>& count_fields() {
  static const ConfigSection<Counts> table = {{"steps", nullptr, &Counts::steps},
                                              {"seed", nullptr, &Counts::seed},
                                              {"big", nullptr, &Counts::big},
                                              {"milestones", nullptr, &Counts::milestones},
                                              {"size", nullptr, &Counts::size}};
  return table;
}

TEST(ConfigFields, AnIntegerMustFitItsMember) {
  const auto refusal = [](const json& object) -> std::string {
    try {
      Counts c;
      count_fields().read(object, "c", c);
    } catch (const Error& e) {
      return e.message();
    }
    return "accepted";
  };
  const std::string message = refusal({{"steps", 2.94444e30}});
  EXPECT_EQ(message.rfind("config field c.steps: ", 0), 0u) << message;
  EXPECT_NE(message.find("must be a whole number from -2147483648 to 2147483647"), std::string::npos) << message;
  EXPECT_NE(message.find("got 2.94444e+30"), std::string::npos) << message;
  for (const json& bad : {json{{"steps", 2147483648}}, json{{"steps", 2.5}}, json{{"steps", -2147483649.0}},
                          json{{"seed", -1}}, json{{"seed", 1.8446744073709552e19}}, json{{"big", 9.3e18}},
                          json{{"big", 9223372036854775808u}}, json{{"milestones", {1, 1e30}}}, json{{"size", 1e30}}})
    EXPECT_NE(refusal(bad).find("a whole number from"), std::string::npos) << bad.dump() << ": " << refusal(bad);
  Counts c;
  count_fields().read({{"steps", 1e3}, {"seed", 18446744073709551615u}, {"big", -9223372036854775807 - 1},
                       {"milestones", {2, 4.0}}, {"size", 64}}, "c", c);
  EXPECT_EQ(c.steps, 1000);
  EXPECT_EQ(c.seed, 18446744073709551615u);
  EXPECT_EQ(c.big, INT64_MIN);
  EXPECT_EQ(c.milestones, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(c.size, 64);
  EXPECT_NE(refusal({{"steps", "ten"}}).find("type_error"), std::string::npos);  // not a number at all
}

}  // namespace
}  // namespace i2v
