// SIGINT (Ctrl-C) and SIGTERM ask long work to stop at the next safe point instead of killing
// it: the training loop then saves a checkpoint and exits cleanly. A second signal kills at once.
#pragma once

namespace i2v {

class StopSignal {
 public:
  // Installs the handlers; the destructor restores the previous ones.
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // True once SIGINT or SIGTERM arrived; the signal's number.
  static bool requested();
  static int signal_number();
  // Used by tests (and by code that wants to stop for its own reasons).
  static void request(int signal_number);
  static void clear();
};

}  // namespace i2v
