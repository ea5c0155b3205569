// The learning rate over training: a base rate, a linear warm-up, and one of
//   constant    — the base rate;
//   step        — × gamma every `step_epochs` epochs;
//   multistep   — × gamma at each epoch in `milestones`;
//   plateau     — × factor when the validation loss stopped decreasing for more than `patience`
//                 validations (PyTorch's ReduceLROnPlateau in "min" mode with a relative
//                 threshold, cooldown and min_lr).
// Config (JSON): {"lr": 0.01, "type": "plateau", "factor": 0.1, "patience": 2, "warmup_steps": 100}.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/config_fields.h"

namespace i2v {

class LrSchedule {
 public:
  static LrSchedule from_json(const nlohmann::json& config);
  // The table from_json reads with (base/config_fields.h).
  static const ConfigSection<LrSchedule>& config_fields();

  // The rate for the optimizer step `step` (0-based) taken in epoch `epoch` (0-based).
  double lr(int64_t step, int64_t epoch) const;
  // Tells the plateau schedule a validation loss; other schedules ignore it.
  void on_validation(double loss);

  // What changes during training (plateau's counters), for checkpoints.
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);
  std::string describe() const;

 private:
  enum class Type { constant, step, multistep, plateau };
  Type type_ = Type::constant;
  double base_lr_ = 0.01;
  double gamma_ = 0.1;
  int64_t step_epochs_ = 30;
  std::vector<int64_t> milestones_;
  int64_t warmup_steps_ = 0;
  double warmup_start_factor_ = 0.1;
  // plateau
  double factor_ = 0.1;
  int patience_ = 10;
  double threshold_ = 1e-4;
  int cooldown_ = 0;
  double min_lr_ = 0.0;
  double plateau_scale_ = 1.0;
  double best_ = 0.0;
  bool has_best_ = false;
  int bad_validations_ = 0;
  int cooldown_left_ = 0;
};

}  // namespace i2v
