#include "diffmix/error.hpp"

#include <cerrno>
#include <cstring>

namespace dmx {

std::string_view to_string(ErrorCategory category) noexcept {
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
    case ErrorCategory::Internal: return "internal error";
  }
  return "unknown error";
}

Error io_error_from_errno(const std::string& what) {
  const int saved = errno;
  return Error(ErrorCategory::Io, what + ": " + std::strerror(saved));
}

}  // namespace dmx
