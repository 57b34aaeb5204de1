# src/text: CLI runs of `heartmula tokenize` on the shared Llama 3 / Whisper
# tokenizers, and the tokenizer benchmark program (not a test).
set(HM_LLAMA3_TOK ${HM_SHARED_DIR}/tokenizer/tokenizer.json)
add_test(NAME text.cli_tokenize COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} "Hello world")
set_tests_properties(text.cli_tokenize PROPERTIES PASS_REGULAR_EXPRESSION "^\\[9906,1917\\]\n$")
add_test(NAME text.cli_tokenize_special COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --add-special "Hello world")
set_tests_properties(text.cli_tokenize_special PROPERTIES PASS_REGULAR_EXPRESSION "^\\[128000,9906,1917\\]\n$")
add_test(NAME text.cli_decode COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --decode "[128000,9906,1917]" --skip-special)
set_tests_properties(text.cli_decode PROPERTIES PASS_REGULAR_EXPRESSION "^Hello world\n$")
add_test(NAME text.cli_tokenize_file COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --file ${HM_SHARED_DIR}/tokenizer/tokenizer_config.json --count)
set_tests_properties(text.cli_tokenize_file PROPERTIES PASS_REGULAR_EXPRESSION "^[1-9][0-9]*\n$")
add_test(NAME text.cli_tokenize_whisper COMMAND ${HM_CLI} tokenize --tokenizer ${HM_SHARED_DIR}/fixtures-whisper/tokenizer.json "Hello world")
set_tests_properties(text.cli_tokenize_whisper PROPERTIES PASS_REGULAR_EXPRESSION "^\\[15947,1002\\]\n$")
add_test(NAME text.cli_tokenize_missing COMMAND ${HM_CLI} tokenize --tokenizer ${HM_SHARED_DIR}/no-such-tokenizer.json "x")
set_tests_properties(text.cli_tokenize_missing PROPERTIES WILL_FAIL TRUE)
add_test(NAME text.cli_decode_bad_id COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --decode "[9906,999999]")
set_tests_properties(text.cli_decode_bad_id PROPERTIES PASS_REGULAR_EXPRESSION "position 1")

add_executable(bench_tokenizer ${CMAKE_SOURCE_DIR}/bench/bench_tokenizer.c)
target_link_libraries(bench_tokenizer PRIVATE hm_text)

# differential data made outside the project (see tests/text/data/gen_*)
target_compile_definitions(text_test_hf_cases PRIVATE HM_TEXT_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/text/data")
