# Helpers every CMakeLists.txt in the tree uses.
include(GoogleTest OPTIONAL)

# One precompiled header with ATen and the autograd-aware tensor types. Including <torch/torch.h> costs ~15 s per
# translation unit here; with this header most files compile in 2-3 s. Files that need torch::nn or torch::optim
# include those narrow headers themselves.
add_library(diffmix_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch_anchor.cpp)
target_link_libraries(diffmix_torch_pch PUBLIC diffmix::torch)
target_precompile_headers(diffmix_torch_pch PRIVATE
  <ATen/ATen.h> <torch/types.h> <string> <vector> <memory> <functional> <unordered_map> <map>)

# dmx_use_torch(<target>): link LibTorch and reuse the shared precompiled header.
function(dmx_use_torch target)
  target_link_libraries(${target} PUBLIC diffmix::torch)
  target_precompile_headers(${target} REUSE_FROM diffmix_torch_pch)
endfunction()

# dmx_add_plugin(<name> SOURCES ... [LIBS ...]): a plugin shared library that exports only its entry symbol.
function(dmx_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE diffmix::plugin_api ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES
    PREFIX "" # plugins are named after what they offer: cutmix.so, mixup.so
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${DIFFMIX_PLUGIN_BUILD_DIR}
    INSTALL_RPATH "$ORIGIN/../..")
  # Undefined symbols are a link error, not a load-time surprise.
  target_link_options(${name} PRIVATE "LINKER:-z,defs"
    "LINKER:--version-script=${PROJECT_SOURCE_DIR}/plugin_api/plugin_exports.map")
  install(TARGETS ${name} LIBRARY DESTINATION ${DIFFMIX_PLUGIN_INSTALL_DIR})
endfunction()

# dmx_add_test(<name> SOURCES ... [LIBS ...] [LABELS ...]): a GoogleTest program registered with CTest.
function(dmx_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main ${ARG_LIBS})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}"
    ENVIRONMENT "DIFFMIX_PLUGIN_PATH=${DIFFMIX_PLUGIN_BUILD_DIR};DIFFMIX_SOURCE_DIR=${PROJECT_SOURCE_DIR};DIFFMIX_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# dmx_add_subdirectories(<dir>...): add each listed folder that exists; areas of the tree are grown independently.
macro(dmx_add_subdirectories)
  foreach(_dmx_dir ${ARGN})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_dmx_dir}/CMakeLists.txt)
      add_subdirectory(${_dmx_dir})
    endif()
  endforeach()
endmacro()
