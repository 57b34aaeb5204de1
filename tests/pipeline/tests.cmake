# `heartmula generate` end to end through the CLI, and the example program.
add_test(NAME pipeline.cli_generate
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/cli_generate.sh ${HM_CLI} $<TARGET_FILE:simple_generate>)
# info describes a checkpoint folder (and fails on a folder without models)
add_test(NAME pipeline.cli_info COMMAND ${HM_CLI} info ${HM_SHARED_DIR}/fixtures)
set_tests_properties(pipeline.cli_info PROPERTIES PASS_REGULAR_EXPRESSION "heartcodec +[0-9]+ tensors")
add_test(NAME pipeline.cli_info_empty COMMAND ${HM_CLI} info ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(pipeline.cli_info_empty PROPERTIES WILL_FAIL TRUE)
