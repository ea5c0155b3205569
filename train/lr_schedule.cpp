#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace i2v {

const ConfigSection<LrSchedule>& LrSchedule::config_fields() {
  // Every type's fields (a schedule may give only its own type's: from_json). No defaults
  // here: the members' own stay.
  static const ConfigSection<LrSchedule> fields = {
      {"lr", nullptr, &LrSchedule::base_lr_, ConfigRange{0}},
      {"type", "string", nullptr,
       [](const nlohmann::json& value, LrSchedule& s) {
         const std::string type = value.get<std::string>();
         if (type == "constant") s.type_ = Type::constant;
         else if (type == "step") s.type_ = Type::step;
         else if (type == "multistep") s.type_ = Type::multistep;
         else if (type == "plateau") s.type_ = Type::plateau;
         else I2V_THROW("unknown schedule type '{}': expected constant, step, multistep or plateau", type);
       }},
      {"step_epochs", nullptr, &LrSchedule::step_epochs_, ConfigRange{1}},
      {"gamma", nullptr, &LrSchedule::gamma_, ConfigRange{0, 1}},
      {"milestones", nullptr, &LrSchedule::milestones_, ConfigRange{0}},
      {"factor", nullptr, &LrSchedule::factor_, ConfigRange{0, 1}},
      {"patience", nullptr, &LrSchedule::patience_, ConfigRange{0}},
      {"threshold", nullptr, &LrSchedule::threshold_, ConfigRange{0}},
      {"cooldown", nullptr, &LrSchedule::cooldown_, ConfigRange{0}},
      {"min_lr", nullptr, &LrSchedule::min_lr_, ConfigRange{0}},
      {"warmup_steps", nullptr, &LrSchedule::warmup_steps_, ConfigRange{0}},
      {"warmup_start_factor", nullptr, &LrSchedule::warmup_start_factor_, ConfigRange{0, 1}},
  };
  return fields;
}

LrSchedule LrSchedule::from_json(const nlohmann::json& config) {
  LrSchedule s;
  config_fields().store(config, "schedule", s);
  // The type says which fields apply: the base rate, the warm-up and its own; another type's
  // are refused.
  std::vector<std::string> own = {"lr", "type", "warmup_steps", "warmup_start_factor"};
  if (s.type_ == Type::step) own.insert(own.end(), {"step_epochs", "gamma"});
  if (s.type_ == Type::multistep) own.insert(own.end(), {"milestones", "gamma"});
  if (s.type_ == Type::plateau) own.insert(own.end(), {"factor", "patience", "threshold", "cooldown", "min_lr"});
  config_fields().only(own).check(config, "schedule");
  if (s.type_ == Type::step) I2V_CHECK(s.step_epochs_ > 0, "step schedule: step_epochs must be positive");
  if (s.type_ == Type::multistep) {
    I2V_CHECK(!s.milestones_.empty(), "multistep schedule: give the milestones (epochs at which the rate drops)");
    I2V_CHECK(std::is_sorted(s.milestones_.begin(), s.milestones_.end()), "multistep: milestones must increase");
  }
  if (s.type_ == Type::plateau) I2V_CHECK(s.factor_ > 0 && s.factor_ < 1, "plateau: factor must be in (0, 1)");
  I2V_CHECK(s.base_lr_ > 0, "schedule: lr must be positive, got {}", s.base_lr_);
  return s;
}

double LrSchedule::lr(int64_t step, int64_t epoch) const {
  double rate = base_lr_;
  switch (type_) {
    case Type::constant: break;
    case Type::step: rate *= std::pow(gamma_, double(epoch / step_epochs_)); break;
    case Type::multistep:
      rate *= std::pow(gamma_, double(std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin()));
      break;
    case Type::plateau: rate = std::max(base_lr_ * plateau_scale_, min_lr_); break;
  }
  if (step < warmup_steps_)
    rate *= warmup_start_factor_ + (1.0 - warmup_start_factor_) * double(step) / double(warmup_steps_);
  return rate;
}

void LrSchedule::on_validation(double loss) {
  if (type_ != Type::plateau) return;
  if (!has_best_ || loss < best_ * (1.0 - threshold_)) {
    best_ = loss;
    has_best_ = true;
    bad_validations_ = 0;
  } else {
    ++bad_validations_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_validations_ = 0;
  }
  if (bad_validations_ > patience_) {
    plateau_scale_ *= factor_;
    cooldown_left_ = cooldown_;
    bad_validations_ = 0;
  }
}

nlohmann::json LrSchedule::state() const {
  return {{"plateau_scale", plateau_scale_}, {"best", best_}, {"has_best", has_best_},
          {"bad_validations", bad_validations_}, {"cooldown_left", cooldown_left_}};
}

void LrSchedule::load_state(const nlohmann::json& state) {
  plateau_scale_ = state.at("plateau_scale").get<double>();
  best_ = state.at("best").get<double>();
  has_best_ = state.at("has_best").get<bool>();
  bad_validations_ = state.at("bad_validations").get<int>();
  cooldown_left_ = state.at("cooldown_left").get<int>();
}

std::string LrSchedule::describe() const {
  std::string text;
  switch (type_) {
    case Type::constant: text = fmt::format("constant lr {}", base_lr_); break;
    case Type::step: text = fmt::format("lr {} x{} every {} epochs", base_lr_, gamma_, step_epochs_); break;
    case Type::multistep: text = fmt::format("lr {} x{} at epochs {}", base_lr_, gamma_, fmt::join(milestones_, ",")); break;
    case Type::plateau:
      text = fmt::format("lr {} x{} after {} validations without improvement", base_lr_, factor_, patience_ + 1);
      break;
  }
  if (warmup_steps_ > 0) text += fmt::format(", linear warm-up over {} steps", warmup_steps_);
  return text;
}

}  // namespace i2v
