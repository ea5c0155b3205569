// The files one command reads and writes, and the one rule for its outputs, checked before the
// command does its work (README, "Conventions"):
//
//   - an output is written only as a regular file (atomically: base/atomic_file.h). A symbolic
//     link, a folder, a device, a FIFO or a socket at its path is refused, never replaced or
//     written through;
//   - an output is never a file the same command reads: the same file by device and inode, so
//     also under another spelling of its path or through a hard link, nor a file the command
//     would read from an input folder (a picture inside the picture folder);
//   - an existing regular file is replaced when the output is a result people read (a report, a
//     picture, an array); when it is a file i2v reads back (weights, a vocabulary, a code store,
//     features, ...) it is replaced only with --force;
//   - missing parent folders are made, once every output has passed (a folder that cannot be
//     made or written into is refused at once).
//
//   CommandFiles files;
//   files.input("--weights", weights).input("pictures", folder, is_picture)
//        .output("-o", output, Existing::needs_force);
//   files.check(force);   // throws naming the option, the path and why
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace i2v {

// What an output does with a regular file that is already at its path.
enum class Existing {
  replace,      // a result people read: reports (JSON, CSV), pictures, arrays
  needs_force,  // a file i2v reads back: replaced only with --force
};

class CommandFiles {
 public:
  // A path the command reads, named by `option` in messages ("--weights", "picture"); empty
  // paths are ignored, missing ones are the command's to report. When `path` is a folder, the
  // files in it (at any depth) that `reads` accepts by name are inputs; without `reads`, all.
  CommandFiles& input(const std::string& option, const std::string& path,
                      std::function<bool(const std::string& file_name)> reads = nullptr);
  // A file the command writes (empty: none).
  CommandFiles& output(const std::string& option, const std::string& path, Existing existing = Existing::replace);
  // A folder the command writes files into (a run directory): a folder, or a link to one, or
  // missing (then made). The files it writes there are outputs of their own.
  CommandFiles& output_folder(const std::string& option, const std::string& path);

  // Checks every output against the rule, then makes the missing parent folders (and output
  // folders). Throws i2v::Error naming the option, the path and the reason.
  void check(bool force = false) const;

 private:
  struct Input {
    std::string option, path;
    std::function<bool(const std::string&)> reads;
  };
  struct Output {
    std::string option, path;
    Existing existing;
    bool folder;
  };
  void check_output(const Output& output, bool force) const;

  std::vector<Input> inputs_;
  std::vector<Output> outputs_;
};

}  // namespace i2v
