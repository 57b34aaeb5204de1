# Kernel benchmark (not a test): bench/bench_matvec.c, built with the tests.
add_executable(bench_matvec ${CMAKE_SOURCE_DIR}/bench/bench_matvec.c)
target_link_libraries(bench_matvec PRIVATE hm_tensor)
set_target_properties(bench_matvec PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

# `heartmula quantize` on the fixture checkpoint, then tensor.test_quantfile
# reads the outputs back (io + tensor).
foreach(qt q8_0 q4_0 bf16)
  add_test(NAME tensor.quantize_cli_${qt}
           COMMAND ${HM_CLI} quantize ${HM_SHARED_DIR}/fixtures/heartmula
                   ${CMAKE_CURRENT_BINARY_DIR}/tensor_quant_${qt}.safetensors --type ${qt} --force)
  set_tests_properties(tensor.quantize_cli_${qt} PROPERTIES FIXTURES_SETUP tensor_quant_files)
endforeach()
target_link_libraries(tensor_test_quantfile PRIVATE hm_io)
target_compile_definitions(tensor_test_quantfile PRIVATE HM_TEST_QUANT_DIR="${CMAKE_CURRENT_BINARY_DIR}")
set_tests_properties(tensor.test_quantfile PROPERTIES FIXTURES_REQUIRED tensor_quant_files)

# bad input (the message is checked): unknown type, existing output without --force, missing input
hm_cli_test(NAME tensor.quantize_cli_bad_type EXPECT "unknown --type 'q5_1'"
            COMMAND ${HM_CLI} quantize ${HM_SHARED_DIR}/fixtures/heartmula ${CMAKE_CURRENT_BINARY_DIR}/never.safetensors --type q5_1)
hm_cli_test(NAME tensor.quantize_cli_exists EXPECT "exists \\(use --force"
            COMMAND ${HM_CLI} quantize ${HM_SHARED_DIR}/fixtures/heartmula ${CMAKE_CURRENT_BINARY_DIR}/tensor_quant_q8_0.safetensors --type q8_0)
set_tests_properties(tensor.quantize_cli_exists PROPERTIES FIXTURES_REQUIRED tensor_quant_files)
hm_cli_test(NAME tensor.quantize_cli_missing EXPECT "no/such/checkpoint"
            COMMAND ${HM_CLI} quantize ${HM_SHARED_DIR}/no/such/checkpoint ${CMAKE_CURRENT_BINARY_DIR}/never.safetensors --type q4_0)

# The parity suites once per kernel table (HM_ISA forces it); a table this CPU
# lacks is reported as skipped, so the CI log says which tables ran.
foreach(table scalar avx2 avx512)
  add_test(NAME tensor.parity_table_${table}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tensor/parity_table.sh ${HM_CLI} ${table}
                   ${HM_SHARED_DIR}/fixtures ${HM_SHARED_DIR}/fixtures-whisper)
  set_tests_properties(tensor.parity_table_${table} PROPERTIES SKIP_RETURN_CODE 77 LABELS slow)
endforeach()

# A build without the x86 kernels (-DHM_SIMD=OFF; any CPU other than x86): whatever
# HM_ISA asks, the CLI runs the scalar table (tensor.test_simd checks the same inside).
if(NOT HM_X86_SIMD)
  hm_cli_test(NAME tensor.scalar_only_build STATUS 0 EXPECT "kernels: scalar "
              COMMAND ${CMAKE_COMMAND} -E env HM_ISA=avx512 ${HM_CLI} info)
endif()
