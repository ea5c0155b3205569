// Paths that i2v writes into a file (a run's config.json, a code store's image paths) are
// relative to the folder of that file, and are resolved against that folder when read: a run
// directory or a store (with the files it names) can be moved, and used from any current
// directory (README, "Conventions"). Absolute paths stay absolute.
#pragma once

#include <string>

namespace i2v {

// `path`, as it opens from the current directory, relative to `folder` (also as it opens from
// the current directory). Absolute and empty paths are returned as they are.
std::string path_relative_to(const std::string& path, const std::string& folder);

// A path read from a file in `folder`, as it opens from the current directory: relative ones
// are under `folder` (and stay relative: "../data/a.png" from a folder above); absolute and empty
// ones are returned as they are.
std::string path_resolved_from(const std::string& path, const std::string& folder);

}  // namespace i2v
