// MatFile: the few things the dataset readers take from MATLAB .mat annotation files (Stanford Cars, Oxford Flowers
// 102, Stanford Dogs), read with Debian's libmatio: numeric vectors, cell arrays of strings, and one field of every
// element of a struct array.
//
//   const auto file = dmx::io::MatFile::open(root + "/imagelabels.mat");
//   const std::vector<int64_t> labels = file.integers("labels");      // any numeric class, any 1×N or N×1 shape
//
// Every problem is a dmx::Error naming the file and the variable (and the element): a missing or unreadable file is
// NotFound, anything else (not a .mat file, a missing variable, a string where a number should be) is Format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct _mat_t;
struct matvar_t;

namespace dmx::io {

class MatFile {
 public:
  static MatFile open(const std::string& path);
  ~MatFile();
  MatFile(MatFile&&) noexcept;
  MatFile& operator=(MatFile&&) noexcept;

  // The elements of numeric variable `name`, each of which must be a whole number.
  std::vector<int64_t> integers(const std::string& name) const;
  // The strings of cell array `name` (each cell a character array).
  std::vector<std::string> strings(const std::string& name) const;
  // Field `field` of every element of struct array `name`, as whole numbers / as strings.
  std::vector<int64_t> struct_integers(const std::string& name, const std::string& field) const;
  std::vector<std::string> struct_strings(const std::string& name, const std::string& field) const;

  const std::string& path() const { return path_; }

 private:
  struct Variable;
  MatFile(std::string path, _mat_t* file);
  Variable read(const std::string& name) const;

  std::string path_;
  _mat_t* file_ = nullptr;
};

}  // namespace dmx::io
