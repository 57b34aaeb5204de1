# `heartmula generate` end to end through the CLI, and the example program.
add_test(NAME pipeline.cli_generate
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/cli_generate.sh ${HM_CLI} $<TARGET_FILE:simple_generate>)
# info describes a checkpoint folder (and fails on a folder without models)
hm_cli_test(NAME pipeline.cli_info STATUS 0 EXPECT "heartcodec +[0-9]+ tensors" COMMAND ${HM_CLI} info ${HM_SHARED_DIR}/fixtures)
hm_cli_test(NAME pipeline.cli_info_empty STREAM both EXPECT "no model folder found" COMMAND ${HM_CLI} info ${CMAKE_CURRENT_SOURCE_DIR})
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
# SIGINT / SIGTERM during generate, decode and transcribe: abort path, status 130 / 143, no file left
add_test(NAME pipeline.cli_signals COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_signals.sh ${HM_CLI} ${HM_SHARED_DIR}/fixtures-whisper)
