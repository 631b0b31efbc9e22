// Whole-file writes that are atomic with respect to readers and crashes: the bytes go to a
// temporary file in the same directory, which is fsync'ed and then renamed over the target, and
// the directory is fsync'ed. A reader sees the old file or the new one, never a part of either.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace cyllm {

// Writes `data` to `path` atomically (mode 0644). The parent directory must exist.
Status write_file_atomic(const std::string& path, std::string_view data);

}  // namespace cyllm
