// MatFile on libmatio. libmatio owns every variable it reads (Mat_VarFree), and the cells and struct fields inside one
// belong to it; only top-level variables are freed here.
#include "mat_file.hpp"

#include <matio.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "mat_v5_check.hpp"

namespace dmx::io {

// Outside the anonymous namespace: MatFile::Variable, a type with linkage, holds one.
struct MatVariableDeleter {
  void operator()(matvar_t* variable) const { Mat_VarFree(variable); }
};
using VariablePtr = std::unique_ptr<matvar_t, MatVariableDeleter>;

namespace {

// libmatio prints its own complaints to stderr; the errors here say the same with the file's name, so its messages go
// to the debug log instead.
void route_matio_messages() {
  static std::once_flag once;
  std::call_once(once, [] {
    Mat_LogInitFunc("diffmix", [](int, char* message) { spdlog::debug("libmatio: {}", message ? message : ""); });
  });
}

// Elements of an array of any rank; 0 for an empty one.
size_t element_count(const matvar_t& variable) {
  size_t count = 1;
  for (int d = 0; d < variable.rank; ++d) {
    const size_t extent = variable.dims ? variable.dims[d] : 0;
    if (extent != 0 && count > std::numeric_limits<size_t>::max() / extent) return 0;
    count *= extent;
  }
  return variable.rank > 0 ? count : 0;
}

size_t bytes_per_element(matio_classes class_type) {
  switch (class_type) {
    case MAT_C_DOUBLE: case MAT_C_INT64: case MAT_C_UINT64: return 8;
    case MAT_C_SINGLE: case MAT_C_INT32: case MAT_C_UINT32: return 4;
    case MAT_C_INT16: case MAT_C_UINT16: return 2;
    case MAT_C_INT8: case MAT_C_UINT8: return 1;
    default: return 0;
  }
}

double number_at(const matvar_t& variable, size_t i) {
  switch (variable.class_type) {
    case MAT_C_DOUBLE: return static_cast<const double*>(variable.data)[i];
    case MAT_C_SINGLE: return static_cast<const float*>(variable.data)[i];
    case MAT_C_INT8: return static_cast<const int8_t*>(variable.data)[i];
    case MAT_C_UINT8: return static_cast<const uint8_t*>(variable.data)[i];
    case MAT_C_INT16: return static_cast<const int16_t*>(variable.data)[i];
    case MAT_C_UINT16: return static_cast<const uint16_t*>(variable.data)[i];
    case MAT_C_INT32: return static_cast<const int32_t*>(variable.data)[i];
    case MAT_C_UINT32: return static_cast<const uint32_t*>(variable.data)[i];
    case MAT_C_INT64: return static_cast<double>(static_cast<const int64_t*>(variable.data)[i]);
    case MAT_C_UINT64: return static_cast<double>(static_cast<const uint64_t*>(variable.data)[i]);
    default: return std::nan("");
  }
}

// The whole numbers of a real numeric array; `what` names it in errors ("file: variable 'labels'").
std::vector<int64_t> integers_of(const matvar_t& variable, const std::string& what) {
  const size_t size = bytes_per_element(variable.class_type);
  if (size == 0 || variable.isComplex)
    throw format_error(what + " is not an array of real numbers");
  const size_t count = element_count(variable);
  if (count > 0 && (variable.data == nullptr || variable.nbytes < count * size))
    throw format_error(what + " holds fewer bytes than its " + std::to_string(count) + " elements need");
  std::vector<int64_t> values;
  values.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const double value = number_at(variable, i);
    if (!std::isfinite(value) || value != std::floor(value) || std::fabs(value) > 9.0e15)
      throw format_error(what + ": element " + std::to_string(i + 1) + " (" + std::to_string(value) +
                         ") is not a whole number");
    values.push_back(static_cast<int64_t>(value));
  }
  return values;
}

void append_utf8(std::string& out, uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// One row of characters (MATLAB stores char arrays as 8-bit or 16-bit code units) as UTF-8.
std::string text_of(const matvar_t* variable, const std::string& what) {
  if (variable == nullptr) throw format_error(what + " is missing");
  if (variable->class_type != MAT_C_CHAR) throw format_error(what + " is not a character array");
  const size_t count = element_count(*variable);
  if (count == 0) return "";
  if (variable->rank != 2 || variable->dims[0] != 1) throw format_error(what + " is not a single row of characters");
  const size_t unit = variable->data_type == MAT_T_UINT16 || variable->data_type == MAT_T_UTF16 ? 2 : 1;
  if (variable->data == nullptr || variable->nbytes < count * unit)
    throw format_error(what + " holds fewer bytes than its " + std::to_string(count) + " characters need");
  std::string text;
  for (size_t i = 0; i < count; ++i) {
    if (unit == 1) {
      text += static_cast<const char*>(variable->data)[i];
    } else {
      append_utf8(text, static_cast<const uint16_t*>(variable->data)[i]);
    }
  }
  return text;
}

}  // namespace

struct MatFile::Variable {
  VariablePtr pointer;
  std::string what;  // "file: variable 'name'"
};

MatFile MatFile::open(const std::string& path) {
  route_matio_messages();
  // libmatio allocates whatever sizes a file states, so the layout is checked against the file's bytes first.
  const std::vector<uint8_t> bytes = read_file(path);
  check_mat_v5(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  mat_t* file = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
  if (file == nullptr) throw format_error(path + ": not a MATLAB .mat file (libmatio cannot open it)");
  return MatFile(path, file);
}

MatFile::MatFile(std::string path, _mat_t* file) : path_(std::move(path)), file_(file) {}

MatFile::~MatFile() {
  if (file_) Mat_Close(file_);
}

MatFile::MatFile(MatFile&& other) noexcept : path_(std::move(other.path_)), file_(other.file_) {
  other.file_ = nullptr;
}

MatFile& MatFile::operator=(MatFile&& other) noexcept {
  if (this != &other) {
    if (file_) Mat_Close(file_);
    path_ = std::move(other.path_);
    file_ = other.file_;
    other.file_ = nullptr;
  }
  return *this;
}

MatFile::Variable MatFile::read(const std::string& name) const {
  const std::string what = path_ + ": variable '" + name + "'";
  // Mat_VarRead scans from the current position; rewinding lets variables be read in any order.
  Mat_Rewind(file_);
  VariablePtr variable(Mat_VarRead(file_, name.c_str()));
  if (!variable) throw format_error(what + " is missing (or cannot be read)");
  return {std::move(variable), what};
}

std::vector<int64_t> MatFile::integers(const std::string& name) const {
  const auto variable = read(name);
  return integers_of(*variable.pointer, variable.what);
}

std::vector<std::string> MatFile::strings(const std::string& name) const {
  const auto variable = read(name);
  if (variable.pointer->class_type != MAT_C_CELL) throw format_error(variable.what + " is not a cell array");
  std::vector<std::string> texts;
  const size_t count = element_count(*variable.pointer);
  for (size_t i = 0; i < count; ++i)
    texts.push_back(text_of(Mat_VarGetCell(variable.pointer.get(), static_cast<int>(i)),
                            variable.what + " cell " + std::to_string(i + 1)));
  return texts;
}

namespace {

// Field `field` of element i of struct array `variable`; `what` names the variable.
const matvar_t* field_of(matvar_t* variable, const std::string& field, size_t i, const std::string& what) {
  const matvar_t* value = Mat_VarGetStructFieldByName(variable, field.c_str(), i);
  if (value == nullptr)
    throw format_error(what + " element " + std::to_string(i + 1) + " has no field '" + field + "'");
  return value;
}

void require_struct(const matvar_t& variable, const std::string& what) {
  if (variable.class_type != MAT_C_STRUCT) throw format_error(what + " is not a struct array");
}

}  // namespace

std::vector<int64_t> MatFile::struct_integers(const std::string& name, const std::string& field) const {
  const auto variable = read(name);
  require_struct(*variable.pointer, variable.what);
  std::vector<int64_t> values;
  const size_t count = element_count(*variable.pointer);
  for (size_t i = 0; i < count; ++i) {
    const std::string what = variable.what + " element " + std::to_string(i + 1) + " field '" + field + "'";
    const auto numbers = integers_of(*field_of(variable.pointer.get(), field, i, variable.what), what);
    if (numbers.size() != 1) throw format_error(what + " holds " + std::to_string(numbers.size()) + " numbers, not 1");
    values.push_back(numbers[0]);
  }
  return values;
}

std::vector<std::string> MatFile::struct_strings(const std::string& name, const std::string& field) const {
  const auto variable = read(name);
  require_struct(*variable.pointer, variable.what);
  std::vector<std::string> texts;
  const size_t count = element_count(*variable.pointer);
  for (size_t i = 0; i < count; ++i)
    texts.push_back(text_of(field_of(variable.pointer.get(), field, i, variable.what),
                            variable.what + " element " + std::to_string(i + 1) + " field '" + field + "'"));
  return texts;
}

}  // namespace dmx::io
