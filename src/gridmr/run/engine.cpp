// The engine's non-template parts.
#include "gridmr/run/engine.hpp"

namespace gridmr {

void check_output_path(const EngineOptions& options) {
  namespace fs = std::filesystem;
  const std::string& out = options.output;
  if (out.empty()) throw UsageError("no output file given (-o OUT.h5)");
  struct stat st;
  if (::stat(out.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw UsageError(fmt::format("output '{}' is a directory", out));
    if (!options.force) {
      throw UsageError(fmt::format("output '{}' exists (use --force to replace it)", out));
    }
  }
  fs::path parent = fs::path(out).parent_path();
  if (parent.empty()) parent = ".";
  if (::stat(parent.c_str(), &st) != 0) {
    throw UsageError(errno_message("cannot write output: no folder", parent.string(), errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw UsageError(fmt::format("cannot write output: '{}' is not a folder", parent.string()));
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw UsageError(errno_message("cannot write output in", parent.string(), errno));
  }
}

}  // namespace gridmr
