// dmx::Error: the one exception type of diffmix's C++ layer (host, engine and plugins alike). Header-only, so that a
// plugin can throw it without linking the host; plugin.hpp turns it into a status code at the ABI boundary.
//
// Every failure that a user can cause or fix (a missing file, a malformed index line, a TOML typo, a wrong-shape
// weight) is thrown as a dmx::Error whose message names the file, key or value involved. The category lets callers
// (the CLI, the plugin ABI boundary) map errors to exit codes and status codes without parsing messages.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dmx {

enum class ErrorCategory {
  InvalidArgument,  // a value passed by the caller is out of range or inconsistent
  NotFound,         // a file, key, class or plugin that should exist does not
  Io,               // the operating system refused a read or write (permissions, full disk, ...)
  Format,           // a file exists but its contents are malformed (corrupt image, truncated safetensors, ...)
  Config,           // a configuration key is unknown, has the wrong type or is out of range
  Shape,            // a tensor has the wrong shape or dtype
  Plugin,           // a plugin could not be loaded or violated the ABI
  Unsupported,      // valid input this build cannot handle (e.g. CUDA requested on a CPU build)
  Cancelled,        // the user interrupted the work; it can be resumed
  Busy,             // another process holds a shared resource (a folder it is writing); try again later
  Internal,         // a broken invariant: a bug in diffmix
};

inline std::string_view to_string(ErrorCategory category) noexcept {
  switch (category) {
    case ErrorCategory::InvalidArgument: return "invalid argument";
    case ErrorCategory::NotFound: return "not found";
    case ErrorCategory::Io: return "I/O error";
    case ErrorCategory::Format: return "format error";
    case ErrorCategory::Config: return "config error";
    case ErrorCategory::Shape: return "shape error";
    case ErrorCategory::Plugin: return "plugin error";
    case ErrorCategory::Unsupported: return "unsupported";
    case ErrorCategory::Cancelled: return "cancelled";
    case ErrorCategory::Busy: return "busy";
    case ErrorCategory::Internal: return "internal error";
  }
  return "unknown error";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, const std::string& message)
      : std::runtime_error(message), category_(category) {}

  ErrorCategory category() const noexcept { return category_; }

 private:
  ErrorCategory category_;
};

// Named constructors read better at throw sites: `throw dmx::format_error(path + ": truncated header")`.
inline Error invalid_argument(const std::string& m) { return Error(ErrorCategory::InvalidArgument, m); }
inline Error not_found(const std::string& m) { return Error(ErrorCategory::NotFound, m); }
inline Error io_error(const std::string& m) { return Error(ErrorCategory::Io, m); }
inline Error format_error(const std::string& m) { return Error(ErrorCategory::Format, m); }
inline Error config_error(const std::string& m) { return Error(ErrorCategory::Config, m); }
inline Error shape_error(const std::string& m) { return Error(ErrorCategory::Shape, m); }
inline Error plugin_error(const std::string& m) { return Error(ErrorCategory::Plugin, m); }
inline Error unsupported(const std::string& m) { return Error(ErrorCategory::Unsupported, m); }
inline Error cancelled(const std::string& m) { return Error(ErrorCategory::Cancelled, m); }
inline Error busy(const std::string& m) { return Error(ErrorCategory::Busy, m); }
inline Error internal_error(const std::string& m) { return Error(ErrorCategory::Internal, m); }

// An Io error that appends strerror(errno): "cannot write out/x.png: No space left on device".
inline Error io_error_from_errno(const std::string& what) {
  const int saved = errno;
  return Error(ErrorCategory::Io, what + ": " + std::strerror(saved));
}

}  // namespace dmx
