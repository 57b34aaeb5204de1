# Lazy initialisations under ThreadSanitizer: src/base/base.c (and the AMX probe)
# built with -fsanitize=thread into a program whose threads all call hm_cpu(),
# hm_force_scalar() and hm_amx_available() first at once and log while the hook
# changes (not in the ASan / fuzz builds: the sanitizers exclude each other).
if(NOT HM_SANITIZE AND NOT HM_FUZZ)
  add_executable(base_race_once_tsan ${CMAKE_CURRENT_LIST_DIR}/race_once.c ${CMAKE_SOURCE_DIR}/src/base/base.c
                 ${CMAKE_SOURCE_DIR}/src/base/pool.c ${CMAKE_SOURCE_DIR}/src/tensor/gemm_amx.c ${CMAKE_CURRENT_LIST_DIR}/../harness.c)
  target_include_directories(base_race_once_tsan PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/include ${CMAKE_CURRENT_LIST_DIR}/..)
  target_compile_options(base_race_once_tsan PRIVATE -fsanitize=thread -g -O1)
  target_link_options(base_race_once_tsan PRIVATE -fsanitize=thread)
  target_link_libraries(base_race_once_tsan PRIVATE Threads::Threads m)
  add_test(NAME base.race_once_tsan COMMAND base_race_once_tsan ${HM_SHARED_DIR})
  set_tests_properties(base.race_once_tsan PROPERTIES ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1:exitcode=66")
endif()
