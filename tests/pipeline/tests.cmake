# `heartmula generate` end to end through the CLI, and the example program.
add_test(NAME pipeline.cli_generate
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/cli_generate.sh ${HM_CLI} $<TARGET_FILE:simple_generate>)
