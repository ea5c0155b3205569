// A config section (one JSON object: the top level of a training config, its "data", a
// schedule, ...) is read through one table of its fields. Each row names a field, gives its
// default and says where its value goes; the C++ type it goes into gives its type:
//
//   struct Loop { int64_t epochs = 0; Device device; };
//   const ConfigSection<Loop> loop_fields = {
//       {"epochs", 10, &Loop::epochs},                      // into a member
//       {"device", "string", "cpu", [](const json& value, Loop& loop) {   // or a reader of its own
//          loop.device = Device::parse(value.get<std::string>()); }},
//   };
//   Loop loop;
//   loop_fields.read(config, "", loop);   // errors name the field: "config field epochs: ..."
//
// A row may bound a number: {"epochs", 10, &Loop::epochs, ConfigRange{0}} refuses -1 (and every
// integer field refuses 1e30 and 2.5, which do not fit it), naming the field.
//
// The same table refuses the fields it does not list — a misspelt "epoch" would otherwise leave
// "epochs" at its default without a word — naming the nearest one, and gives the docs' tables
// their rows (tests/config_docs_test.cpp holds docs/training.md to it). Keys that start with '_'
// are comments. Adding a field is one row here and one in the docs.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace i2v {

// What a table says about a field for people: its name, its type in words (as the docs write
// it) and its default (null: none; the target keeps its own value, or the reader checks).
struct ConfigFieldInfo {
  std::string name;
  std::string type;
  nlohmann::json default_value;
};

// A C++ type in the words of the docs' tables. Only these types can be read into a member; a
// value of any other type needs a reader of its own. (Taken by pointer so that no other type
// converts into one of these, as a vector<float> would into a json.)
inline const char* json_type_name(const bool*) { return "bool"; }
inline const char* json_type_name(const int*) { return "integer"; }
inline const char* json_type_name(const int64_t*) { return "integer"; }
inline const char* json_type_name(const uint64_t*) { return "integer"; }
inline const char* json_type_name(const float*) { return "number"; }
inline const char* json_type_name(const double*) { return "number"; }
inline const char* json_type_name(const std::string*) { return "string"; }
inline const char* json_type_name(const std::vector<std::string>*) { return "list of strings"; }
inline const char* json_type_name(const std::vector<int64_t>*) { return "list of integers"; }
inline const char* json_type_name(const std::vector<double>*) { return "list of numbers"; }
inline const char* json_type_name(const std::array<float, 3>*) { return "3 numbers"; }
inline const char* json_type_name(const nlohmann::json*) { return "object"; }  // a section with a table of its own
// An optional member stays empty when the field is absent: for "given or not" (loss.reduction).
template <typename V>
const char* json_type_name(const std::optional<V>*) {
  return json_type_name(static_cast<const V*>(nullptr));
}

// A value a field refuses (out of its range, not a whole number for an integer): the table
// names the field.
struct ConfigValueError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The values a number field (or each number of a list field) accepts, both ends included.
struct ConfigRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};
// Throws ConfigValueError unless `value` (a number, or a list of them; anything else is left to
// the type's own check) is in `range`.
void check_config_range(const nlohmann::json& value, const ConfigRange& range);

// A JSON number into an integer V: whole and within V's range, or ConfigValueError (JSON's
// 1e30 would otherwise become INT64_MIN, and 2.5 become 2, without a word).
template <typename V>
V read_config_integer(const nlohmann::json& value) {
  using limits = std::numeric_limits<V>;
  const auto refuse = [&] {
    return ConfigValueError(fmt::format("must be a whole number from {} to {}, got {}", limits::min(), limits::max(),
                                        value.dump()));
  };
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > uint64_t(limits::max())) throw refuse();
  } else if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v < 0 ? (!limits::is_signed || v < int64_t(limits::min())) : uint64_t(v) > uint64_t(limits::max()))
      throw refuse();
  } else if (value.is_number_float()) {
    const double v = value.get<double>();
    // 2^63 (a double) is one past INT64_MAX: compare against the bounds as doubles, the top open.
    if (!(v == std::floor(v) && v >= double(limits::min()) && v < double(limits::max()) + 1.0)) throw refuse();
    return V(v);
  }
  return value.get<V>();  // a JSON integer in range, or a type error naming the type
}

// Stores a JSON value into a member; an optional member then holds it.
template <typename V>
void read_json(const nlohmann::json& value, V& into) {
  if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) into = read_config_integer<V>(value);
  else into = value.get<V>();
}
template <typename V>
void read_json(const nlohmann::json& value, std::optional<V>& into) {
  V v{};
  read_json(value, v);
  into = v;
}
inline void read_json(const nlohmann::json& value, std::vector<int64_t>& into) {
  if (!value.is_array()) {
    into = value.get<std::vector<int64_t>>();  // the type error
    return;
  }
  into.clear();
  for (const nlohmann::json& element : value) into.push_back(read_config_integer<int64_t>(element));
}

// One row of a table that reads into a T.
template <typename T>
struct ConfigField : ConfigFieldInfo {
  using Reader = std::function<void(const nlohmann::json& value, T& into)>;
  // Stores the value (or the default when the field is absent). Empty: the field is allowed
  // here and read by someone else.
  Reader read;

  // Into a member of T; a number (or each of a list) within `range`.
  template <typename Member>
  ConfigField(std::string name, nlohmann::json default_value, Member T::*member, ConfigRange range = {})
      : ConfigFieldInfo{std::move(name), json_type_name(static_cast<const Member*>(nullptr)), std::move(default_value)},
        read([member, range](const nlohmann::json& value, T& into) {
          check_config_range(value, range);
          read_json(value, into.*member);
        }) {}
  // Into a member of a member of T (the "epochs" of a config's loop options).
  template <typename Part, typename Member>
  ConfigField(std::string name, nlohmann::json default_value, Part T::*part, Member Part::*member,
              ConfigRange range = {})
      : ConfigFieldInfo{std::move(name), json_type_name(static_cast<const Member*>(nullptr)), std::move(default_value)},
        read([part, member, range](const nlohmann::json& value, T& into) {
          check_config_range(value, range);
          read_json(value, into.*part.*member);
        }) {}
  // A value to parse or check: `type` in words and a reader of its own.
  ConfigField(std::string name, std::string type, nlohmann::json default_value, Reader read)
      : ConfigFieldInfo{std::move(name), std::move(type), std::move(default_value)}, read(std::move(read)) {}
};

// What ConfigSection::check does: throws naming `where` (e.g. "data"), the unknown field, the
// nearest of `known` when it looks like a typo, and the known ones; and when `object` is not an
// object.
void check_known_fields(const nlohmann::json& object, const std::string& where, const std::vector<std::string>& known);

// "data" + "batch_size" -> "data.batch_size"; "" + "epochs" -> "epochs".
std::string field_path(const std::string& where, const std::string& name);

// The table of a section: its rows, read in order.
template <typename T>
class ConfigSection {
 public:
  ConfigSection(std::initializer_list<ConfigField<T>> fields) : fields_(fields) {}

  // Refuses fields the table does not list, then stores them.
  void read(const nlohmann::json& object, const std::string& where, T& into) const {
    check(object, where);
    store(object, where, into);
  }

  // Stores every field into `into` in table order: the given value, else the default, else
  // nothing (`into` keeps its value). A value of the wrong JSON type is an error naming the
  // field, its path from `where` and the value. Without check(): for a section whose fields
  // depend on one of them (a schedule's type), which then checks with the fields that apply.
  void store(const nlohmann::json& object, const std::string& where, T& into) const {
    for (const ConfigField<T>& field : fields_) {
      const auto given = object.find(field.name);
      if (!field.read || (given == object.end() && field.default_value.is_null())) continue;
      const nlohmann::json& value = given != object.end() ? *given : field.default_value;
      try {
        field.read(value, into);
      } catch (const nlohmann::json::exception& e) {
        I2V_THROW("config field {}: {} (got {})", field_path(where, field.name), e.what(), value.dump());
      } catch (const ConfigValueError& e) {
        I2V_THROW("config field {}: {}", field_path(where, field.name), e.what());
      }
    }
  }

  // Refuses anything but an object whose fields the table lists.
  void check(const nlohmann::json& object, const std::string& where) const {
    std::vector<std::string> names;
    for (const ConfigField<T>& field : fields_) names.push_back(field.name);
    check_known_fields(object, where, names);
  }

  // The rows named `names`, in table order: a section that allows less (data.augment takes
  // some of data.preprocess's fields).
  ConfigSection only(const std::vector<std::string>& names) const {
    ConfigSection part({});
    for (const ConfigField<T>& field : fields_)
      if (std::find(names.begin(), names.end(), field.name) != names.end()) part.fields_.push_back(field);
    I2V_CHECK(part.fields_.size() == names.size(), "ConfigSection::only: a name that is not in the table");
    return part;
  }

  // The rows as the docs list them.
  std::vector<ConfigFieldInfo> fields() const { return {fields_.begin(), fields_.end()}; }

 private:
  std::vector<ConfigField<T>> fields_;
};

}  // namespace i2v
