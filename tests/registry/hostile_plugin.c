/* A plugin whose augmenters break the ABI's promises at run time, each in one way. The host must refuse every bad
 * result with an error naming the plugin file and the mistake, free what it was given, and keep working.
 *
 * Sample sources (samples as in c_sample_source.h, then spoiled):
 *   wrong_dtype_source      the image is float32, not uint8
 *   wrong_shape_source      the image has 2 dimensions, not H×W×C
 *   wrong_device_source     the image says it lives on a CUDA device
 *   no_deleter_source       the image has no deleter, so the host could never free it
 *   null_shape_source       the image has 3 dimensions and no shape array
 *   bad_label_source        the soft label sums to 0.5
 *   unterminated_source     `next` fails with a message that fills the whole buffer and has no NUL
 * Batch augmenters:
 *   wrong_shape_augmenter   the images come back one pixel wider
 *   bad_label_augmenter     every label row sums to 2 */
#include "c_sample_source.h"

enum mischief {
  WRONG_DTYPE,
  WRONG_SHAPE,
  WRONG_DEVICE,
  NO_DELETER,
  NULL_SHAPE,
  BAD_LABEL,
  UNTERMINATED,
  AUGMENTER_WRONG_SHAPE,
  AUGMENTER_BAD_LABEL
};

typedef struct hostile {
  c_source base; /* first: the c_source_* functions take the instance as a c_source */
  enum mischief mischief;
} hostile;

static dmx_status hostile_create(const dmx_create_info* info, void** instance, dmx_error* error,
                                 enum mischief mischief) {
  hostile* self = (hostile*)calloc(1, sizeof(hostile));
  if (!self) return c_source_fail(error, DMX_STATUS_OUT_OF_MEMORY, "out of memory");
  self->base.num_classes = info->num_classes;
  self->base.seed = info->seed;
  self->mischief = mischief;
  *instance = self;
  return DMX_STATUS_OK;
}

/* An image that no deleter will ever free: static storage, so that the test leaks nothing either. */
static uint8_t orphan_data[2 * 3 * 3];
static int64_t orphan_shape[3] = {2, 3, 3};
static DLManagedTensor orphan = {{orphan_data, {kDLCPU, 0}, 3, {kDLUInt, 8, 1}, orphan_shape, NULL, 0}, NULL, NULL};

static dmx_status hostile_next(void* instance, dmx_sample* out, dmx_error* error) {
  hostile* self = (hostile*)instance;
  const int64_t float_shape[3] = {2, 3, 3};
  if (self->mischief == UNTERMINATED) {
    memset(error->message, 'x', sizeof(error->message));
    return DMX_STATUS_INTERNAL;
  }
  self->base.prepared = 1;
  c_source_fill(&self->base, self->base.next_index++, out);
  out->struct_size = (uint32_t)DMX_SAMPLE_SIZE_1_0;
  switch (self->mischief) {
    case WRONG_DTYPE:
      out->image->deleter(out->image);
      out->image = c_tensor_new(kDLFloat, 32, 3, float_shape);
      break;
    case WRONG_SHAPE: out->image->dl_tensor.ndim = 2; break;
    case WRONG_DEVICE: out->image->dl_tensor.device.device_type = kDLCUDA; break;
    case NO_DELETER:
      out->image->deleter(out->image);
      out->image = &orphan;
      break;
    case NULL_SHAPE: out->image->dl_tensor.shape = NULL; break;
    case BAD_LABEL: ((float*)out->soft_label->dl_tensor.data)[out->target_class] = 0.5f; break;
    default: break;
  }
  return DMX_STATUS_OK;
}

/* A contiguous float tensor of up to 4 dimensions, freed through its deleter. */
typedef struct float_tensor {
  DLManagedTensor managed;
  int64_t shape[4];
} float_tensor;

static void float_tensor_free(DLManagedTensor* self) {
  free(self->dl_tensor.data);
  free(self->manager_ctx);
}

static DLManagedTensor* float_tensor_new(int32_t ndim, const int64_t* shape, float fill) {
  float_tensor* owned = (float_tensor*)calloc(1, sizeof(float_tensor));
  int64_t count = 1, i;
  int32_t d;
  float* data;
  for (d = 0; d < ndim; ++d) count *= (owned->shape[d] = shape[d]);
  data = (float*)malloc((size_t)count * sizeof(float));
  for (i = 0; i < count; ++i) data[i] = fill;
  owned->managed.dl_tensor.data = data;
  owned->managed.dl_tensor.device.device_type = kDLCPU;
  owned->managed.dl_tensor.ndim = ndim;
  owned->managed.dl_tensor.dtype.code = kDLFloat;
  owned->managed.dl_tensor.dtype.bits = 32;
  owned->managed.dl_tensor.dtype.lanes = 1;
  owned->managed.dl_tensor.shape = owned->shape;
  owned->managed.manager_ctx = owned;
  owned->managed.deleter = float_tensor_free;
  return &owned->managed;
}

static dmx_status hostile_apply(void* instance, const dmx_batch* in, uint64_t step, dmx_batch* out,
                                dmx_error* error) {
  const hostile* self = (const hostile*)instance;
  const DLTensor* images = &in->images->dl_tensor;
  const DLTensor* labels = &in->labels->dl_tensor;
  int64_t image_shape[4];
  int32_t d;
  (void)step;
  (void)error;
  for (d = 0; d < 4 && d < images->ndim; ++d) image_shape[d] = images->shape[d];
  if (self->mischief == AUGMENTER_WRONG_SHAPE) image_shape[3] += 1;
  out->images = float_tensor_new(images->ndim, image_shape, 0.0f);
  /* Rows of K entries of 1/K sum to 1; of 2/K, to 2. */
  out->labels = float_tensor_new(labels->ndim, labels->shape,
                                 (self->mischief == AUGMENTER_BAD_LABEL ? 2.0f : 1.0f) / (float)labels->shape[1]);
  return DMX_STATUS_OK;
}

#define HOSTILE_CREATE(kind)                                                                                        \
  static dmx_status create_##kind(const dmx_create_info* info, void** instance, dmx_error* error) {                  \
    return hostile_create(info, instance, error, kind);                                                              \
  }
HOSTILE_CREATE(WRONG_DTYPE)
HOSTILE_CREATE(WRONG_SHAPE)
HOSTILE_CREATE(WRONG_DEVICE)
HOSTILE_CREATE(NO_DELETER)
HOSTILE_CREATE(NULL_SHAPE)
HOSTILE_CREATE(BAD_LABEL)
HOSTILE_CREATE(UNTERMINATED)
HOSTILE_CREATE(AUGMENTER_WRONG_SHAPE)
HOSTILE_CREATE(AUGMENTER_BAD_LABEL)

static const dmx_sample_source_api source_api = {sizeof(dmx_sample_source_api), c_source_prepare, c_source_synthesize,
                                                 hostile_next, c_source_seek, NULL};
static const dmx_batch_augmenter_api augmenter_api = {sizeof(dmx_batch_augmenter_api), hostile_apply};

#define SOURCE(name, kind)                                                                                          \
  {sizeof(dmx_augmenter_factory), name, "a hostile sample source", DMX_ROLE_SAMPLE_SOURCE, "[]", create_##kind,     \
   c_source_destroy, NULL, &source_api}
#define AUGMENTER(name, kind)                                                                                       \
  {sizeof(dmx_augmenter_factory), name, "a hostile batch augmenter", DMX_ROLE_BATCH_AUGMENTER, "[]", create_##kind, \
   c_source_destroy, &augmenter_api, NULL}

static const dmx_augmenter_factory factories[] = {
    SOURCE("wrong_dtype_source", WRONG_DTYPE),   SOURCE("wrong_shape_source", WRONG_SHAPE),
    SOURCE("wrong_device_source", WRONG_DEVICE), SOURCE("no_deleter_source", NO_DELETER),
    SOURCE("null_shape_source", NULL_SHAPE),     SOURCE("bad_label_source", BAD_LABEL),
    SOURCE("unterminated_source", UNTERMINATED), AUGMENTER("wrong_shape_augmenter", AUGMENTER_WRONG_SHAPE),
    AUGMENTER("bad_label_augmenter", AUGMENTER_BAD_LABEL)};
static const dmx_augmenter_factory* const factory_list[] = {&factories[0], &factories[1], &factories[2],
                                                            &factories[3], &factories[4], &factories[5],
                                                            &factories[6], &factories[7], &factories[8]};
#if defined(LYING_COUNT)
/* Built a second time as lying_count.so: the same tables behind a descriptor that claims far more augmenters than
 * its array holds. */
static const dmx_plugin_descriptor descriptor = {
    sizeof(dmx_plugin_descriptor), {DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}, "lying_count", "0.1.0",
    "a descriptor whose count lies", 100000, factory_list, NULL};
#else
static const dmx_plugin_descriptor descriptor = {
    sizeof(dmx_plugin_descriptor), {DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}, "hostile", "0.1.0",
    "augmenters that break the ABI's promises", 9, factory_list, NULL};
#endif

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  (void)host;
  (void)error;
  return &descriptor;
}
