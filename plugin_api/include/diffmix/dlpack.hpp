// at::Tensor <-> DLPack without copying, for both sides of the plugin ABI.
//
// LibTorch's own at::toDLPack costs ~0.5 µs a tensor; a batch call converts eight tensors, so these lean versions
// keep the whole ABI round trip well under a microsecond: one allocation to export, none to view.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "diffmix/error.hpp"
#include "diffmix/plugin_api.h"

namespace dmx::dlpack {

inline DLDataType data_type_of(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return {kDLFloat, 32, 1};
    case at::kDouble: return {kDLFloat, 64, 1};
    case at::kHalf: return {kDLFloat, 16, 1};
    case at::kBFloat16: return {kDLBfloat, 16, 1};
    case at::kByte: return {kDLUInt, 8, 1};
    case at::kBool: return {kDLUInt, 8, 1};
    case at::kChar: return {kDLInt, 8, 1};
    case at::kShort: return {kDLInt, 16, 1};
    case at::kInt: return {kDLInt, 32, 1};
    case at::kLong: return {kDLInt, 64, 1};
    default: throw unsupported(std::string("tensors of type ") + at::toString(type) + " cannot cross the plugin ABI");
  }
}

inline at::ScalarType scalar_type_of(DLDataType type) {
  if (type.lanes == 1) {
    if (type.code == kDLFloat && type.bits == 32) return at::kFloat;
    if (type.code == kDLFloat && type.bits == 64) return at::kDouble;
    if (type.code == kDLFloat && type.bits == 16) return at::kHalf;
    if (type.code == kDLBfloat && type.bits == 16) return at::kBFloat16;
    if (type.code == kDLUInt && type.bits == 8) return at::kByte;
    if (type.code == kDLInt && type.bits == 8) return at::kChar;
    if (type.code == kDLInt && type.bits == 16) return at::kShort;
    if (type.code == kDLInt && type.bits == 32) return at::kInt;
    if (type.code == kDLInt && type.bits == 64) return at::kLong;
  }
  throw unsupported("DLPack data type (code " + std::to_string(type.code) + ", " + std::to_string(type.bits) +
                    " bits, " + std::to_string(type.lanes) + " lanes) has no LibTorch equivalent");
}

inline DLDevice device_of(const at::Device& device) {
  if (device.is_cpu()) return {kDLCPU, 0};
  if (device.is_cuda()) return {kDLCUDA, device.has_index() ? device.index() : 0};
  throw unsupported("tensors on " + device.str() + " cannot cross the plugin ABI");
}

inline at::Device torch_device_of(DLDevice device) {
  if (device.device_type == kDLCPU) return at::Device(at::kCPU);
  if (device.device_type == kDLCUDA) return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.device_id));
  throw unsupported("DLPack device type " + std::to_string(device.device_type) + " is not supported");
}

namespace detail {

// The exported tensor keeps its storage alive; shape and strides point into the tensor's own metadata.
struct Exported {
  DLManagedTensor managed;
  at::Tensor tensor;
};

inline void delete_exported(DLManagedTensor* managed) { delete static_cast<Exported*>(managed->manager_ctx); }

inline void delete_imported(void* managed) {
  auto* m = static_cast<DLManagedTensor*>(managed);
  if (m->deleter) m->deleter(m);
}

inline at::TensorMaker maker_for(const DLTensor& t) {
  void* data = static_cast<char*>(t.data) + t.byte_offset;
  auto maker = at::for_blob(data, at::IntArrayRef(t.shape, static_cast<size_t>(t.ndim)));
  if (t.strides) maker.strides(at::IntArrayRef(t.strides, static_cast<size_t>(t.ndim)));
  maker.options(at::TensorOptions().dtype(scalar_type_of(t.dtype)).device(torch_device_of(t.device)));
  return maker;
}

}  // namespace detail

// Hands `tensor` to the other side without copying; the receiver calls the DLPack deleter.
inline DLManagedTensor* export_tensor(const at::Tensor& tensor) {
  auto* exported = new detail::Exported{{}, tensor};
  DLTensor& t = exported->managed.dl_tensor;
  t.data = exported->tensor.data_ptr();
  t.device = device_of(exported->tensor.device());
  t.ndim = static_cast<int32_t>(exported->tensor.dim());
  t.dtype = data_type_of(exported->tensor.scalar_type());
  t.shape = const_cast<int64_t*>(exported->tensor.sizes().data());
  t.strides = const_cast<int64_t*>(exported->tensor.strides().data());
  t.byte_offset = 0;
  exported->managed.manager_ctx = exported;
  exported->managed.deleter = &detail::delete_exported;
  return &exported->managed;
}

// A view of a borrowed tensor: valid only while the lender keeps it (during the call that lent it).
inline at::Tensor view_tensor(const DLManagedTensor* managed) {
  if (!managed) throw invalid_argument("a tensor argument is NULL");
  return detail::maker_for(managed->dl_tensor).make_tensor();
}

namespace detail {

// What a received tensor must hold before anything reads its data: a deleter (the receiver owns it and must be able
// to free it), a sane rank, a shape when it has dimensions, no negative extents, and data when it has elements.
// Nothing is freed here: the caller still owns `managed` when this throws.
inline void check_received(const DLManagedTensor& managed) {
  const DLTensor& t = managed.dl_tensor;
  if (!managed.deleter) throw plugin_error("a tensor result has no deleter, so its receiver could never free it");
  if (t.ndim < 0 || t.ndim > 16) throw plugin_error("a tensor result claims " + std::to_string(t.ndim) + " dimensions");
  if (t.ndim > 0 && !t.shape) throw plugin_error("a tensor result has " + std::to_string(t.ndim) + " dimensions but no shape");
  int64_t elements = 1;
  for (int32_t d = 0; d < t.ndim; ++d) {
    if (t.shape[d] < 0) throw plugin_error("a tensor result has a negative extent " + std::to_string(t.shape[d]));
    elements *= t.shape[d];
  }
  if (elements > 0 && !t.data) throw plugin_error("a tensor result has " + std::to_string(elements) + " elements and no data");
}

}  // namespace detail

// Takes ownership of a received tensor: its deleter runs when the last at::Tensor using it is gone. A malformed one
// (see detail::check_received, or a type or device LibTorch lacks) is a dmx::Error and stays the caller's to free.
inline at::Tensor import_tensor(DLManagedTensor* managed) {
  if (!managed) throw invalid_argument("a tensor result is NULL");
  detail::check_received(*managed);
  return detail::maker_for(managed->dl_tensor).context(managed, &detail::delete_imported).make_tensor();
}

}  // namespace dmx::dlpack
