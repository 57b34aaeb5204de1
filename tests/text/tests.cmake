# src/text: CLI runs of `heartmula tokenize` on the shared Llama 3 / Whisper
# tokenizers, and the tokenizer benchmark program (not a test).
set(HM_LLAMA3_TOK ${HM_SHARED_DIR}/tokenizer/tokenizer.json)
hm_cli_test(NAME text.cli_tokenize STATUS 0 EXPECT "^\\[9906,1917\\]\n$"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} "Hello world")
hm_cli_test(NAME text.cli_tokenize_special STATUS 0 EXPECT "^\\[128000,9906,1917\\]\n$"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --add-special "Hello world")
hm_cli_test(NAME text.cli_decode STATUS 0 EXPECT "^Hello world\n$"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --decode "[128000,9906,1917]" --skip-special)
hm_cli_test(NAME text.cli_tokenize_file STATUS 0 EXPECT "^[1-9][0-9]*\n$"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --file ${HM_SHARED_DIR}/tokenizer/tokenizer_config.json --count)
hm_cli_test(NAME text.cli_tokenize_whisper STATUS 0 EXPECT "^\\[15947,1002\\]\n$"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_SHARED_DIR}/fixtures-whisper/tokenizer.json "Hello world")
hm_cli_test(NAME text.cli_tokenize_missing EXPECT "cannot open tokenizer '.*no-such-tokenizer.json': no such file"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_SHARED_DIR}/no-such-tokenizer.json "x")
hm_cli_test(NAME text.cli_decode_bad_id EXPECT "cannot decode id 999999 at position 1"
            COMMAND ${HM_CLI} tokenize --tokenizer ${HM_LLAMA3_TOK} --decode "[9906,999999]")

add_executable(bench_tokenizer ${CMAKE_SOURCE_DIR}/bench/bench_tokenizer.c)
target_link_libraries(bench_tokenizer PRIVATE hm_text)

# differential data made outside the project (see tests/text/data/gen_*)
target_compile_definitions(text_test_hf_cases PRIVATE HM_TEXT_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/text/data")
