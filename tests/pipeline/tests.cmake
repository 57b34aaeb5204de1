# `heartmula generate` end to end through the CLI, and the example program.
add_test(NAME pipeline.cli_generate
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/cli_generate.sh ${HM_CLI} $<TARGET_FILE:simple_generate>)
# info describes a checkpoint folder (and fails on a folder without models)
add_test(NAME pipeline.cli_info COMMAND ${HM_CLI} info ${HM_SHARED_DIR}/fixtures)
set_tests_properties(pipeline.cli_info PROPERTIES PASS_REGULAR_EXPRESSION "heartcodec +[0-9]+ tensors")
add_test(NAME pipeline.cli_info_empty COMMAND ${HM_CLI} info ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(pipeline.cli_info_empty PROPERTIES WILL_FAIL TRUE)
# docs/cli.md documents every subcommand the binary has
add_test(NAME pipeline.cli_doc_complete
         COMMAND bash -c "for c in $(${HM_CLI} --help | awk '/^  [a-z]/{print $1}'); do grep -q \"^## heartmula $c\$\" ${CMAKE_SOURCE_DIR}/docs/cli.md || { echo \"docs/cli.md lacks $c\"; exit 1; }; done")
# make install: the installed library, header and pkg-config file build the example
# (not in the sanitizer build, whose archive needs the sanitizer runtime to link)
if(NOT HM_SANITIZE)
  add_test(NAME pipeline.install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/install_check.sh
           ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${HM_CLI})
endif()
# the same song at 1 and 2 threads through the CLI: same codes, same audio bytes
add_test(NAME pipeline.cli_repro COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/cli_repro.sh ${HM_CLI})
