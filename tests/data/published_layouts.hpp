// Tiny trees in the published layouts of Stanford Cars, Oxford Flowers 102, FGVC-Aircraft, Stanford Dogs and
// Waterbirds, written by the tests (the .mat files with libmatio, as MATLAB would: character arrays of 16-bit code
// units, some variables compressed).
#pragma once

#include <matio.h>
#include <png.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "data_test_files.hpp"

namespace dmx::test {

// A .mat file being written; variables are added with the helpers below and written as they are added.
class MatWriter {
 public:
  explicit MatWriter(const std::string& path) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    file_ = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
    if (!file_) throw std::runtime_error("cannot create " + path);
  }
  ~MatWriter() { Mat_Close(file_); }
  MatWriter(const MatWriter&) = delete;
  MatWriter& operator=(const MatWriter&) = delete;

  // A 1×N double row vector.
  void numbers(const std::string& name, const std::vector<double>& values, bool compress = false) {
    size_t dims[2] = {1, values.size()};
    write(Mat_VarCreate(name.c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, const_cast<double*>(values.data()), 0),
          compress);
  }
  // An N×1 cell array of strings.
  void strings(const std::string& name, const std::vector<std::string>& texts, bool compress = false) {
    size_t dims[2] = {texts.size(), 1};
    matvar_t* cell = Mat_VarCreate(name.c_str(), MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
    for (size_t i = 0; i < texts.size(); ++i) Mat_VarSetCell(cell, static_cast<int>(i), text(texts[i]));
    write(cell, compress);
  }
  // A 1×N struct array with a string field and a number field.
  void records(const std::string& name, const std::string& text_field, const std::vector<std::string>& texts,
               const std::string& number_field, const std::vector<double>& numbers) {
    size_t dims[2] = {1, texts.size()};
    const char* fields[2] = {text_field.c_str(), number_field.c_str()};
    matvar_t* array = Mat_VarCreateStruct(name.c_str(), 2, dims, fields, 2);
    for (size_t i = 0; i < texts.size(); ++i) {
      Mat_VarSetStructFieldByName(array, text_field.c_str(), i, text(texts[i]));
      size_t one[2] = {1, 1};
      Mat_VarSetStructFieldByName(array, number_field.c_str(), i,
                                  Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, one,
                                                const_cast<double*>(&numbers[i]), 0));
    }
    write(array, true);
  }

 private:
  static matvar_t* text(const std::string& value) {
    std::vector<uint16_t> units(value.begin(), value.end());
    size_t dims[2] = {1, units.size()};
    return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT16, 2, dims, units.data(), 0);
  }
  void write(matvar_t* variable, bool compress) {
    Mat_VarWrite(file_, variable, compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE);
    Mat_VarFree(variable);
  }
  mat_t* file_ = nullptr;
};

// Stanford Cars: classes "AM General Hummer SUV 2000" and "Ram C/V Cargo Van Minivan 2012"; train images a.jpg
// (class 1), b.jpg (2), c.jpg (2); test image d.jpg (1).
inline void write_stanford_cars(const std::string& root) {
  MatWriter(root + "/devkit/cars_meta.mat")
      .strings("class_names", {"AM General Hummer SUV 2000", "Ram C/V Cargo Van Minivan 2012"}, true);
  MatWriter(root + "/devkit/cars_train_annos.mat").records("annotations", "fname", {"a.jpg", "b.jpg", "c.jpg"},
                                                           "class", {1, 2, 2});
  MatWriter(root + "/cars_test_annos_withlabels.mat").records("annotations", "fname", {"d.jpg"}, "class", {1});
  for (const char* name : {"a.jpg", "b.jpg", "c.jpg"}) write_picture(root + "/cars_train/" + name, 12, 16, name[0]);
  write_picture(root + "/cars_test/d.jpg", 12, 16, 4);
}

// Oxford Flowers 102: six images, labelled 1, 1, 2, 102, 2, 1; train {1, 3}, val {2}, test {4, 5, 6}.
inline void write_flowers102(const std::string& root) {
  MatWriter(root + "/imagelabels.mat").numbers("labels", {1, 1, 2, 102, 2, 1}, true);
  MatWriter setid(root + "/setid.mat");
  setid.numbers("trnid", {1, 3});
  setid.numbers("valid", {2});
  setid.numbers("tstid", {4, 5, 6});
  for (int i = 1; i <= 6; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/jpg/image_%05d.jpg", i);
    write_picture(root + name, 12, 16, i);
  }
}

// FGVC-Aircraft under root/data: variants "707-320", "F/A-18"; trainval images 0001 (707-320), 0002 (F/A-18);
// test image 0003 (F/A-18).
inline void write_fgvc_aircraft(const std::string& root) {
  write_text(root + "/data/variants.txt", "707-320\nF/A-18\n");
  write_text(root + "/data/images_variant_trainval.txt", "0001 707-320\n0002 F/A-18\n");
  write_text(root + "/data/images_variant_test.txt", "0003 F/A-18\n");
  for (const char* id : {"0001", "0002", "0003"}) write_picture(root + "/data/images/" + id + ".jpg", 12, 16, id[3]);
}

// Stanford Dogs: breeds Chihuahua (n02085620) and African hunting dog (n02116738); train: one image of each; test:
// one Chihuahua.
inline void write_stanford_dogs(const std::string& root) {
  const std::string chihuahua = "n02085620-Chihuahua/n02085620_1.jpg";
  const std::string hunting = "n02116738-African_hunting_dog/n02116738_2.jpg";
  const std::string test = "n02085620-Chihuahua/n02085620_3.jpg";
  for (const auto& file : {chihuahua, hunting, test}) write_picture(root + "/Images/" + file, 12, 16, file[8]);
  MatWriter train(root + "/lists/train_list.mat");
  train.strings("file_list", {chihuahua, hunting});
  train.numbers("labels", {1, 2});
  MatWriter test_list(root + "/lists/test_list.mat");
  test_list.strings("file_list", {test});
  test_list.numbers("labels", {1});
}

// Waterbirds: species 1 (Black footed Albatross, a waterbird) and 2 (Least Flycatcher, a landbird); train: one of
// each on its own kind of place; test: the albatross on land and the flycatcher on water.
inline void write_waterbirds(const std::string& root) {
  const std::string albatross = "001.Black_footed_Albatross/";
  const std::string flycatcher = "002.Least_Flycatcher/";
  write_text(root + "/metadata.csv",
             "img_id,img_filename,y,split,place,place_filename\n"
             "1," + albatross + "a.jpg,1,0,1,/o/ocean/1.jpg\n"
             "2," + flycatcher + "b.jpg,0,0,0,/b/bamboo_forest/2.jpg\n"
             "3," + albatross + "c.jpg,1,2,0,/b/bamboo_forest/3.jpg\n"
             "4," + flycatcher + "d.jpg,0,2,1,/l/lake/4.jpg\n");
  for (const auto& file : {albatross + "a.jpg", flycatcher + "b.jpg", albatross + "c.jpg", flycatcher + "d.jpg"})
    write_picture(root + "/" + file, 12, 16, file.back());
}

// VOC's colour for palette index i (the bits of i spread over the top bits of R, G and B).
inline std::array<uint8_t, 3> voc_colour(int i) {
  std::array<uint8_t, 3> rgb{};
  for (int j = 0, c = i; j < 8; ++j, c >>= 3)
    for (int channel = 0; channel < 3; ++channel) rgb[channel] |= static_cast<uint8_t>(((c >> channel) & 1) << (7 - j));
  return rgb;
}

// A palette PNG of palette indices (row-major, height × width) with VOC's palette, as VOC's masks are stored.
inline void write_voc_mask(const std::string& path, int width, int height, const std::vector<uint8_t>& indices) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> colormap;
  for (int i = 0; i < 256; ++i) {
    const auto rgb = voc_colour(i);
    colormap.insert(colormap.end(), rgb.begin(), rgb.end());
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB_COLORMAP;
  image.colormap_entries = 256;
  if (!png_image_write_to_file(&image, path.c_str(), 0, indices.data(), 0, colormap.data()))
    throw std::runtime_error("cannot write " + path + ": " + image.message);
}

// Pascal VOC 2012: train image a (a cat of 6 pixels, instance 1, beside a dog of 4, instance 2: label cat), train
// image b (one television, instance 1, with a void border), val image c (a person).
inline void write_pascal_voc(const std::string& root) {
  const int w = 4, h = 3;
  auto masks = [&](const std::string& id, std::vector<uint8_t> classes, std::vector<uint8_t> objects) {
    write_voc_mask(root + "/SegmentationClass/" + id + ".png", w, h, classes);
    write_voc_mask(root + "/SegmentationObject/" + id + ".png", w, h, objects);
    write_picture(root + "/JPEGImages/" + id + ".jpg", 12, 16, id[0]);
  };
  // cat = class 8, dog = class 12, television = 20, person = 15.
  masks("a", {8, 8, 8, 12, 8, 8, 8, 12, 0, 0, 12, 12}, {1, 1, 1, 2, 1, 1, 1, 2, 0, 0, 2, 2});
  masks("b", {255, 255, 255, 255, 255, 20, 20, 255, 255, 255, 255, 255}, {255, 255, 255, 255, 255, 1, 1, 255, 255, 255,
                                                                         255, 255});
  masks("c", {15, 15, 0, 0, 15, 15, 0, 0, 0, 0, 0, 0}, {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0});
  write_text(root + "/ImageSets/Segmentation/train.txt", "a\nb\n");
  write_text(root + "/ImageSets/Segmentation/val.txt", "c\n");
}

}  // namespace dmx::test
