/* A batch augmenter written in plain C against the ABI alone: it returns -images and the labels with their class
 * order reversed. Proves that tensors, ownership and errors cross the boundary without any C++ on this side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffmix/plugin_api.h"

typedef struct owned_tensor {
  DLManagedTensor managed;
  int64_t shape[8];
} owned_tensor;

static void free_owned(DLManagedTensor* self) {
  free(self->dl_tensor.data);
  free(self->manager_ctx);
}

static int64_t element_count(const DLTensor* t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

/* A contiguous float32 copy of `in` with the same shape; the receiver frees it through the deleter. */
static DLManagedTensor* new_like(const DLTensor* in) {
  owned_tensor* owned = (owned_tensor*)calloc(1, sizeof(owned_tensor));
  if (!owned || in->ndim > 8) { free(owned); return NULL; }
  memcpy(owned->shape, in->shape, sizeof(int64_t) * (size_t)in->ndim);
  owned->managed.dl_tensor = *in;
  owned->managed.dl_tensor.shape = owned->shape;
  owned->managed.dl_tensor.strides = NULL;
  owned->managed.dl_tensor.byte_offset = 0;
  owned->managed.dl_tensor.data = malloc(sizeof(float) * (size_t)element_count(in));
  owned->managed.manager_ctx = owned;
  owned->managed.deleter = free_owned;
  return &owned->managed;
}

/* Compact row-major: strides absent (NULL) or equal to what NULL would mean. */
static int is_compact(const DLTensor* t) {
  int64_t expected = 1;
  int i;
  if (t->strides == NULL) return 1;
  for (i = t->ndim - 1; i >= 0; --i) {
    if (t->shape[i] != 1 && t->strides[i] != expected) return 0;
    expected *= t->shape[i];
  }
  return 1;
}

static int is_contiguous_f32(const DLTensor* t) {
  return t->dtype.code == kDLFloat && t->dtype.bits == 32 && t->device.device_type == kDLCPU && is_compact(t);
}

static dmx_status negate_create(const dmx_create_info* info, void** instance, dmx_error* error) {
  (void)info;
  (void)error;
  *instance = malloc(1);
  return DMX_STATUS_OK;
}

static void negate_destroy(void* instance) { free(instance); }

static dmx_status negate_apply(void* instance, const dmx_batch* in, uint64_t step, dmx_batch* out, dmx_error* error) {
  const DLTensor* images = &in->images->dl_tensor;
  const DLTensor* labels = &in->labels->dl_tensor;
  (void)instance;
  (void)step;
  if (!is_contiguous_f32(images) || !is_contiguous_f32(labels) || labels->ndim != 2) {
    snprintf(error->message, sizeof(error->message), "c_negate: expected contiguous float32 CPU tensors");
    return DMX_STATUS_SHAPE;
  }
  out->images = new_like(images);
  out->labels = new_like(labels);
  {
    const float* src = (const float*)((const char*)images->data + images->byte_offset);
    float* dst = (float*)out->images->dl_tensor.data;
    int64_t i, n = element_count(images);
    for (i = 0; i < n; ++i) dst[i] = -src[i];
  }
  {
    const float* src = (const float*)((const char*)labels->data + labels->byte_offset);
    float* dst = (float*)out->labels->dl_tensor.data;
    int64_t rows = labels->shape[0], k = labels->shape[1], r, c;
    for (r = 0; r < rows; ++r)
      for (c = 0; c < k; ++c) dst[r * k + c] = src[r * k + (k - 1 - c)];
  }
  return DMX_STATUS_OK;
}

static const dmx_batch_augmenter_api negate_api = {sizeof(dmx_batch_augmenter_api), negate_apply};
static const dmx_augmenter_factory negate_factory = {
    sizeof(dmx_augmenter_factory), "c_negate", "negates images and reverses label order", DMX_ROLE_BATCH_AUGMENTER,
    "[]", negate_create, negate_destroy, &negate_api, NULL};
static const dmx_augmenter_factory* const factories[] = {&negate_factory};
static const dmx_plugin_descriptor descriptor = {
    sizeof(dmx_plugin_descriptor), {DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}, "c_negate", "0.1.0",
    "test plugin written in C", 1, factories, NULL};

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  if (!host || host->struct_size < DMX_HOST_SIZE_1_0) {
    snprintf(error->message, sizeof(error->message), "the host's services table is smaller than in ABI 1.0");
    return NULL;
  }
  if (host->abi_version.major != DMX_ABI_VERSION_MAJOR) {
    snprintf(error->message, sizeof(error->message), "host ABI %u is not %d", host->abi_version.major,
             DMX_ABI_VERSION_MAJOR);
    return NULL;
  }
  host->log(host->host_data, DMX_LOG_DEBUG, "c_negate", "loaded");
  return &descriptor;
}
