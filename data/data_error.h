// What can be wrong with one sample of a dataset, and the exception that says so.
//
// Bad input never crashes a run: a sample whose file or metadata line has one of these problems
// is skipped and counted (data/data_report.h). Code that reads metadata or decodes an image
// throws DataError with the problem and a message naming the file (and line) and the reason.
#pragma once

#include <string>

#include "base/error.h"

namespace i2v {

enum class DataProblem : int {
  missing_file,        // the image file does not exist (or cannot be opened)
  empty_file,          // zero bytes
  truncated_image,     // the data ends before the image does
  corrupt_image,       // the decoder rejects the data
  unsupported_format,  // not JPEG, PNG, GIF, BMP or WebP (e.g. AVIF, a video, a zip)
  too_many_pixels,     // the header claims more pixels than the limit (decompression bombs)
  malformed_json,      // a metadata line that is not a JSON object with an id
  unknown_rating,      // a rating letter the dump's vintage does not define
  unknown_category,    // a tag category other than 0, 1, 3, 4, 5
  broken_shard,        // a tar shard cut off, or with a header that is not one: the rest of it is lost
  incomplete_sample,   // a shard's sample without a picture, or without metadata
};
constexpr int kDataProblemCount = 11;

// "missing file", "empty file", ... (for reports).
const char* data_problem_name(DataProblem problem);

class DataError : public Error {
 public:
  DataError(const char* file, int line, DataProblem problem, const std::string& message)
      : Error(file, line, "", message), problem_(problem) {}
  DataProblem problem() const { return problem_; }

 private:
  DataProblem problem_;
};

}  // namespace i2v

// Throws i2v::DataError(problem, fmt::format(...)).
#define I2V_DATA_ERROR(problem, ...) throw ::i2v::DataError(__FILE__, __LINE__, (problem), ::fmt::format(__VA_ARGS__))
