# Helpers every CMakeLists.txt in the tree uses.

# One precompiled header with ATen and the autograd-aware tensor types. Including <torch/torch.h> costs ~15 s per
# translation unit here; with this header most files compile in 2-3 s. Files that need torch::nn or torch::optim
# include those narrow headers themselves.
add_library(diffmix_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch_anchor.cpp)
target_link_libraries(diffmix_torch_pch PUBLIC diffmix::torch)
set(DIFFMIX_PCH_HEADERS <ATen/ATen.h> <torch/types.h> <string> <vector> <memory> <functional> <unordered_map> <map>)
target_precompile_headers(diffmix_torch_pch PRIVATE ${DIFFMIX_PCH_HEADERS})

# Plugins compile with hidden visibility, and clang refuses a precompiled header built with other visibility flags:
# there they get their own copy of the same header. GCC takes the shared one (what a plugin exports is decided by its
# version script, not by the header's visibility).
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_library(diffmix_plugin_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch_anchor.cpp)
  target_link_libraries(diffmix_plugin_torch_pch PUBLIC diffmix::torch)
  set_target_properties(diffmix_plugin_torch_pch PROPERTIES
    CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_precompile_headers(diffmix_plugin_torch_pch PRIVATE ${DIFFMIX_PCH_HEADERS})
  set(DIFFMIX_PLUGIN_PCH diffmix_plugin_torch_pch)
else()
  set(DIFFMIX_PLUGIN_PCH diffmix_torch_pch)
endif()

# Test programs share a header that adds GoogleTest and nlohmann::json, and compile at -Og: their time goes into the
# libraries and LibTorch, which keep the build type's optimisation, while optimising their own template-heavy code
# (gtest's assertions, json, inlined ATen calls) took half of a clean build (docs/contributing.md).
set(DIFFMIX_TEST_COMPILE_OPTIONS -Og)
if(DIFFMIX_BUILD_TESTS)
  add_library(diffmix_test_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch_anchor.cpp)
  target_link_libraries(diffmix_test_torch_pch PUBLIC diffmix::torch GTest::gtest nlohmann_json::nlohmann_json)
  target_compile_options(diffmix_test_torch_pch PRIVATE ${DIFFMIX_TEST_COMPILE_OPTIONS})
  target_precompile_headers(diffmix_test_torch_pch PRIVATE ${DIFFMIX_PCH_HEADERS} <gtest/gtest.h> <nlohmann/json.hpp>)
endif()

# dmx_plugin_use_torch(<plugin>): link LibTorch into a plugin made by dmx_add_plugin, with the plugins' header.
function(dmx_plugin_use_torch target)
  target_link_libraries(${target} PRIVATE diffmix::torch)
  target_precompile_headers(${target} REUSE_FROM ${DIFFMIX_PLUGIN_PCH})
endfunction()

# dmx_use_torch(<target>): link LibTorch and reuse the shared precompiled header.
function(dmx_use_torch target)
  target_link_libraries(${target} PUBLIC diffmix::torch)
  get_target_property(_dmx_is_test ${target} DIFFMIX_TEST_PROGRAM)
  if(_dmx_is_test)
    target_precompile_headers(${target} REUSE_FROM diffmix_test_torch_pch)
  else()
    target_precompile_headers(${target} REUSE_FROM diffmix_torch_pch)
  endif()
  # The header was compiled with -fPIC; an executable's default -fPIE would make GCC ignore it.
  get_target_property(_dmx_type ${target} TYPE)
  if(_dmx_type STREQUAL "EXECUTABLE")
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
endfunction()

# dmx_add_plugin(<name> SOURCES ... [LIBS ...] [TEST_ONLY]): a plugin shared library that exports only its entry
# symbol. TEST_ONLY plugins (deliberately broken ones, say) go to <build>/test-plugins and are never installed.
function(dmx_add_plugin name)
  cmake_parse_arguments(ARG "TEST_ONLY" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE diffmix::plugin_api ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES
    PREFIX "" # plugins are named after what they offer: cutmix.so, mixup.so
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${DIFFMIX_PLUGIN_BUILD_DIR}
    INSTALL_RPATH "$ORIGIN/../..")
  if(ARG_TEST_ONLY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/test-plugins)
  endif()
  target_link_options(${name} PRIVATE "LINKER:--version-script=${PROJECT_SOURCE_DIR}/plugin_api/plugin_exports.map")
  # Undefined symbols are a link error, not a load-time surprise. Not under clang's sanitizers: their runtime lives
  # in the executable that loads the plugin, so a plugin cannot resolve it on its own.
  if(NOT (DIFFMIX_SANITIZE AND CMAKE_CXX_COMPILER_ID MATCHES "Clang"))
    target_link_options(${name} PRIVATE "LINKER:-z,defs")
  endif()
  if(NOT ARG_TEST_ONLY)
    install(TARGETS ${name} LIBRARY DESTINATION ${DIFFMIX_PLUGIN_INSTALL_DIR})
  endif()
endfunction()

# dmx_add_library(<target> ALIAS <namespace::name> [SOURCES ...] [PUBLIC_LIBS ...] [PRIVATE_LIBS ...]): one of the
# project's shared libraries on LibTorch, with its public headers in <folder>/include, versioned and installed with
# them into the diffmix CMake package.
function(dmx_add_library name)
  cmake_parse_arguments(ARG "" "ALIAS" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} SHARED ${ARG_SOURCES})
  add_library(${ARG_ALIAS} ALIAS ${name})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  dmx_use_torch(${name})
  set_target_properties(${name} PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  install(TARGETS ${name} EXPORT diffmixTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# dmx_add_test(<name> SOURCES ... [LIBS ...] [LABELS ...]): a GoogleTest program registered with CTest as one test.
# One test per program, not per case: every process pays ~1-2 s to load LibTorch, which would dominate the suite.
# The quick tests of an area share one program too: each program costs the build a few seconds of its own.
# Run a single case with `build/tests/<area>/<name> --gtest_filter=...`. It links LibTorch with the tests' header.
set(DIFFMIX_TEST_ENVIRONMENT
  "DIFFMIX_PLUGIN_PATH=${DIFFMIX_PLUGIN_BUILD_DIR}"
  "DIFFMIX_TEST_PLUGIN_DIR=${PROJECT_BINARY_DIR}/test-plugins"
  "DIFFMIX_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "DIFFMIX_BUILD_DIR=${PROJECT_BINARY_DIR}")
function(dmx_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES DIFFMIX_TEST_PROGRAM ON)
  target_compile_options(${name} PRIVATE ${DIFFMIX_TEST_COMPILE_OPTIONS})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main ${ARG_LIBS})
  dmx_use_torch(${name})
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" ENVIRONMENT "${DIFFMIX_TEST_ENVIRONMENT}")
endfunction()

# dmx_add_subdirectories(<dir>...): add each listed folder that exists; areas of the tree are grown independently.
macro(dmx_add_subdirectories)
  foreach(_dmx_dir ${ARGN})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_dmx_dir}/CMakeLists.txt)
      add_subdirectory(${_dmx_dir})
    endif()
  endforeach()
endmacro()
