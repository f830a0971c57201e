/*
 * Pins the layout of every shipped ABI table on 64-bit targets. A change that moves a field breaks the build here,
 * not a plugin in the field. Included by the host and by the ABI tests (as C11 and as C++17).
 *
 * Version 1.0 layouts. A later minor version may only append fields: add new pins, never edit these. The
 * DMX_*_SIZE_1_0 constants of plugin_api.h, the sizes readers check `struct_size` against, are pinned here too: a
 * table grown later keeps its 1.0 size.
 *
 * dmx_batch is frozen: it has no struct_size, so it can never grow (see plugin_api.h).
 */
#ifndef DIFFMIX_PLUGIN_API_LAYOUT_H
#define DIFFMIX_PLUGIN_API_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "diffmix/plugin_api.h"

#ifdef __cplusplus
#define DMX_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define DMX_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define DMX_PIN_OFFSET(type, field, offset) \
  DMX_STATIC_ASSERT(offsetof(type, field) == (offset), #type "." #field " moved: the ABI is broken")
#define DMX_PIN_SIZE(type, size) DMX_STATIC_ASSERT(sizeof(type) == (size), "sizeof(" #type ") changed: the ABI is broken")

#if UINTPTR_MAX == UINT64_MAX

DMX_PIN_SIZE(dmx_abi_version, 8);
DMX_PIN_SIZE(dmx_error, DMX_ERROR_MESSAGE_CAPACITY);

DMX_PIN_OFFSET(dmx_host, struct_size, 0);
DMX_PIN_OFFSET(dmx_host, abi_version, 4);
DMX_PIN_OFFSET(dmx_host, host_data, 16);
DMX_PIN_OFFSET(dmx_host, log, 24);
DMX_PIN_OFFSET(dmx_host, progress, 32);
DMX_PIN_OFFSET(dmx_host, is_cancelled, 40);
DMX_PIN_SIZE(dmx_host, 48);

DMX_PIN_OFFSET(dmx_dataset_view, struct_size, 0);
DMX_PIN_OFFSET(dmx_dataset_view, data, 8);
DMX_PIN_OFFSET(dmx_dataset_view, size, 16);
DMX_PIN_OFFSET(dmx_dataset_view, num_classes, 24);
DMX_PIN_OFFSET(dmx_dataset_view, class_name, 32);
DMX_PIN_OFFSET(dmx_dataset_view, metaclass, 40);
DMX_PIN_OFFSET(dmx_dataset_view, label, 48);
DMX_PIN_OFFSET(dmx_dataset_view, image, 56);
DMX_PIN_SIZE(dmx_dataset_view, 64);

DMX_PIN_OFFSET(dmx_create_info, struct_size, 0);
DMX_PIN_OFFSET(dmx_create_info, instance_name, 8);
DMX_PIN_OFFSET(dmx_create_info, config_toml, 16);
DMX_PIN_OFFSET(dmx_create_info, num_classes, 24);
DMX_PIN_OFFSET(dmx_create_info, seed, 32);
DMX_PIN_OFFSET(dmx_create_info, device, 40);
DMX_PIN_OFFSET(dmx_create_info, cache_dir, 48);
DMX_PIN_OFFSET(dmx_create_info, dataset, 56);
DMX_PIN_SIZE(dmx_create_info, 64);

/* Frozen: no struct_size, never grows. */
DMX_PIN_OFFSET(dmx_batch, images, 0);
DMX_PIN_OFFSET(dmx_batch, labels, 8);
DMX_PIN_SIZE(dmx_batch, 16);

DMX_PIN_OFFSET(dmx_batch_augmenter_api, struct_size, 0);
DMX_PIN_OFFSET(dmx_batch_augmenter_api, apply, 8);
DMX_PIN_SIZE(dmx_batch_augmenter_api, 16);

DMX_PIN_OFFSET(dmx_sample, struct_size, 0);
DMX_PIN_OFFSET(dmx_sample, image, 8);
DMX_PIN_OFFSET(dmx_sample, soft_label, 16);
DMX_PIN_OFFSET(dmx_sample, source_class, 24);
DMX_PIN_OFFSET(dmx_sample, target_class, 28);
DMX_PIN_OFFSET(dmx_sample, strength, 32);
DMX_PIN_OFFSET(dmx_sample, seed, 40);
DMX_PIN_SIZE(dmx_sample, 48);

DMX_PIN_OFFSET(dmx_sample_source_api, struct_size, 0);
DMX_PIN_OFFSET(dmx_sample_source_api, prepare, 8);
DMX_PIN_OFFSET(dmx_sample_source_api, synthesize, 16);
DMX_PIN_OFFSET(dmx_sample_source_api, next, 24);
DMX_PIN_OFFSET(dmx_sample_source_api, seek, 32);            /* 1.1 */
DMX_PIN_OFFSET(dmx_sample_source_api, synthesize_part, 40); /* 1.3 */
DMX_PIN_SIZE(dmx_sample_source_api, 48);

DMX_PIN_OFFSET(dmx_augmenter_factory, struct_size, 0);
DMX_PIN_OFFSET(dmx_augmenter_factory, name, 8);
DMX_PIN_OFFSET(dmx_augmenter_factory, description, 16);
DMX_PIN_OFFSET(dmx_augmenter_factory, role, 24);
DMX_PIN_OFFSET(dmx_augmenter_factory, config_schema_json, 32);
DMX_PIN_OFFSET(dmx_augmenter_factory, create, 40);
DMX_PIN_OFFSET(dmx_augmenter_factory, destroy, 48);
DMX_PIN_OFFSET(dmx_augmenter_factory, batch_augmenter, 56);
DMX_PIN_OFFSET(dmx_augmenter_factory, sample_source, 64);
DMX_PIN_SIZE(dmx_augmenter_factory, 72);

DMX_PIN_OFFSET(dmx_plugin_descriptor, struct_size, 0);
DMX_PIN_OFFSET(dmx_plugin_descriptor, abi_version, 4);
DMX_PIN_OFFSET(dmx_plugin_descriptor, name, 16);
DMX_PIN_OFFSET(dmx_plugin_descriptor, version, 24);
DMX_PIN_OFFSET(dmx_plugin_descriptor, description, 32);
DMX_PIN_OFFSET(dmx_plugin_descriptor, augmenter_count, 40);
DMX_PIN_OFFSET(dmx_plugin_descriptor, augmenters, 48);
DMX_PIN_OFFSET(dmx_plugin_descriptor, deinit, 56);
DMX_PIN_SIZE(dmx_plugin_descriptor, 64);

/* The 1.0 size of every table with a struct_size. */
DMX_STATIC_ASSERT(DMX_HOST_SIZE_1_0 == 48, "the 1.0 size of dmx_host changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_DATASET_VIEW_SIZE_1_0 == 64, "the 1.0 size of dmx_dataset_view changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_CREATE_INFO_SIZE_1_0 == 64, "the 1.0 size of dmx_create_info changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_BATCH_AUGMENTER_API_SIZE_1_0 == 16,
                  "the 1.0 size of dmx_batch_augmenter_api changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_SAMPLE_SIZE_1_0 == 48, "the 1.0 size of dmx_sample changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_SAMPLE_SOURCE_API_SIZE_1_0 == 32,
                  "the 1.0 size of dmx_sample_source_api changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_AUGMENTER_FACTORY_SIZE_1_0 == 72,
                  "the 1.0 size of dmx_augmenter_factory changed: the ABI is broken");
DMX_STATIC_ASSERT(DMX_PLUGIN_DESCRIPTOR_SIZE_1_0 == 64,
                  "the 1.0 size of dmx_plugin_descriptor changed: the ABI is broken");

#endif /* 64-bit */

#endif /* DIFFMIX_PLUGIN_API_LAYOUT_H */
