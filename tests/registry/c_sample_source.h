/* The behaviour shared by the plain-C sample-source test plugins; each plugin declares its own tables around it.
 *
 * The stream holds C_SOURCE_LENGTH samples. Sample k is a 2×3×3 uint8 image whose every byte is k, labelled
 * one-hot with class k % K, made with seed (instance seed + k): a sample that crossed the ABI says which one it was.
 * `synthesize` writes "<out_dir>/made.txt" holding the count it was asked for. */
#ifndef DIFFMIX_TEST_C_SAMPLE_SOURCE_H
#define DIFFMIX_TEST_C_SAMPLE_SOURCE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffmix/plugin_api.h"

#define C_SOURCE_LENGTH 4

typedef struct c_source {
  int32_t num_classes;
  uint64_t seed;
  int64_t next_index;
  int prepared;
} c_source;

typedef struct c_tensor {
  DLManagedTensor managed;
  int64_t shape[3];
} c_tensor;

static inline void c_tensor_free(DLManagedTensor* self) {
  free(self->dl_tensor.data);
  free(self->manager_ctx);
}

/* A contiguous CPU tensor of `ndim` (at most 3) dimensions, zero-filled; the receiver frees it through the deleter. */
static inline DLManagedTensor* c_tensor_new(uint8_t code, uint8_t bits, int32_t ndim, const int64_t* shape) {
  c_tensor* owned = (c_tensor*)calloc(1, sizeof(c_tensor));
  int64_t count = 1;
  int32_t d;
  if (!owned) return NULL;
  for (d = 0; d < ndim; ++d) {
    owned->shape[d] = shape[d];
    count *= shape[d];
  }
  owned->managed.dl_tensor.data = calloc((size_t)count, bits / 8u);
  owned->managed.dl_tensor.device.device_type = kDLCPU;
  owned->managed.dl_tensor.ndim = ndim;
  owned->managed.dl_tensor.dtype.code = code;
  owned->managed.dl_tensor.dtype.bits = bits;
  owned->managed.dl_tensor.dtype.lanes = 1;
  owned->managed.dl_tensor.shape = owned->shape;
  owned->managed.manager_ctx = owned;
  owned->managed.deleter = c_tensor_free;
  return &owned->managed;
}

static inline dmx_status c_source_fail(dmx_error* error, dmx_status status, const char* message) {
  snprintf(error->message, sizeof(error->message), "%s", message);
  return status;
}

static inline dmx_status c_source_create(const dmx_create_info* info, void** instance, dmx_error* error) {
  c_source* source;
  if (info->struct_size < DMX_CREATE_INFO_SIZE_1_0)
    return c_source_fail(error, DMX_STATUS_INVALID_ARGUMENT, "the host's create info is smaller than in ABI 1.0");
  source = (c_source*)calloc(1, sizeof(c_source));
  if (!source) return c_source_fail(error, DMX_STATUS_OUT_OF_MEMORY, "out of memory");
  source->num_classes = info->num_classes;
  source->seed = info->seed;
  *instance = source;
  return DMX_STATUS_OK;
}

static inline void c_source_destroy(void* instance) { free(instance); }

static inline dmx_status c_source_prepare(void* instance, dmx_error* error) {
  (void)error;
  ((c_source*)instance)->prepared = 1;
  return DMX_STATUS_OK;
}

/* Writes `made` into "<out_dir>/made.txt", once the source is prepared. */
static inline dmx_status c_source_write_made(void* instance, const char* out_dir, const char* made, dmx_error* error) {
  char path[4096];
  FILE* file;
  if (!((c_source*)instance)->prepared)
    return c_source_fail(error, DMX_STATUS_INVALID_ARGUMENT, "call prepare before making samples");
  snprintf(path, sizeof(path), "%s/made.txt", out_dir);
  file = fopen(path, "w");
  if (!file) return c_source_fail(error, DMX_STATUS_IO, "cannot write made.txt");
  fputs(made, file);
  fclose(file);
  return DMX_STATUS_OK;
}

static inline dmx_status c_source_synthesize(void* instance, const char* out_dir, int64_t count, dmx_error* error) {
  char made[32];
  snprintf(made, sizeof(made), "%lld", (long long)count);
  return c_source_write_made(instance, out_dir, made, error);
}

/* Fills the 1.0 fields of `out` with sample `index`; the caller has checked that its table holds them. */
static inline void c_source_fill(const c_source* source, int64_t index, dmx_sample* out) {
  const int64_t image_shape[3] = {2, 3, 3};
  const int64_t label_shape[1] = {source->num_classes};
  const int32_t target = (int32_t)(index % source->num_classes);
  out->image = c_tensor_new(kDLUInt, 8, 3, image_shape);
  out->soft_label = c_tensor_new(kDLFloat, 32, 1, label_shape);
  memset(out->image->dl_tensor.data, (int)index, 2 * 3 * 3);
  ((float*)out->soft_label->dl_tensor.data)[target] = 1.0f;
  out->source_class = -1;
  out->target_class = target;
  out->strength = 1.0f;
  out->seed = source->seed + (uint64_t)index;
}

/* `next` for a plugin whose dmx_sample is the 1.0 one. */
static inline dmx_status c_source_next(void* instance, dmx_sample* out, dmx_error* error) {
  c_source* source = (c_source*)instance;
  if (!source->prepared) return c_source_fail(error, DMX_STATUS_INVALID_ARGUMENT, "call prepare before next");
  if (out->struct_size < DMX_SAMPLE_SIZE_1_0)
    return c_source_fail(error, DMX_STATUS_INVALID_ARGUMENT, "the host's sample table is smaller than in ABI 1.0");
  if (source->next_index >= C_SOURCE_LENGTH) return DMX_STATUS_EXHAUSTED;
  c_source_fill(source, source->next_index++, out);
  out->struct_size = (uint32_t)DMX_SAMPLE_SIZE_1_0;
  return DMX_STATUS_OK;
}

static inline dmx_status c_source_seek(void* instance, int64_t index, dmx_error* error) {
  if (index < 0) return c_source_fail(error, DMX_STATUS_INVALID_ARGUMENT, "negative sample index");
  ((c_source*)instance)->next_index = index;
  return DMX_STATUS_OK;
}

#endif /* DIFFMIX_TEST_C_SAMPLE_SOURCE_H */
