# Kernel benchmark (not a test): bench/bench_matvec.c, built with the tests.
add_executable(bench_matvec ${CMAKE_SOURCE_DIR}/bench/bench_matvec.c)
target_link_libraries(bench_matvec PRIVATE hm_tensor)
set_target_properties(bench_matvec PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
