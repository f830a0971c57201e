# Builds for finding memory errors and undefined behaviour in diffmix's own code (LibTorch itself is not
# instrumented). `scripts/sanitize.sh` configures one build with both options and runs the suite and the fuzzers.
#
# DIFFMIX_SANITIZE: every target with AddressSanitizer and UndefinedBehaviorSanitizer; the whole suite must pass.
# DIFFMIX_FUZZ: libFuzzer targets for every parser of outside input (tests/fuzz); needs clang, implies SANITIZE.
option(DIFFMIX_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(DIFFMIX_FUZZ "Build the libFuzzer targets (clang only; implies DIFFMIX_SANITIZE)" OFF)

if(DIFFMIX_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DIFFMIX_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  set(DIFFMIX_SANITIZE ON CACHE BOOL "" FORCE)
  # Coverage feedback for libFuzzer in every library, so one build serves the suite and the fuzzers.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(DIFFMIX_SANITIZE)
  # -fno-sanitize-recover turns every undefined-behaviour report into a failing exit, so CTest notices it.
  # -O1 (after the build type's -O3, so it wins): the sanitizers' recommended level, and it compiles much faster.
  add_compile_options(-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=address,undefined)
endif()
