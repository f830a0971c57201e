# `cmake --install` puts headers, libraries, plugins, the CLI and a CMake package in place so that an existing
# trainer can do `find_package(diffmix)` and link `diffmix::diffmix`.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/plugin_api/include/ ${PROJECT_SOURCE_DIR}/host/include/
  ${PROJECT_BINARY_DIR}/generated/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN "*.in" EXCLUDE)
install(TARGETS diffmix diffmix_plugin_api EXPORT diffmixTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT diffmixTargets NAMESPACE diffmix:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/diffmix)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/diffmixConfig.cmake.in
  ${PROJECT_BINARY_DIR}/diffmixConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/diffmix
  PATH_VARS DIFFMIX_PLUGIN_INSTALL_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/diffmixConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/diffmixConfig.cmake ${PROJECT_BINARY_DIR}/diffmixConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/diffmix)
