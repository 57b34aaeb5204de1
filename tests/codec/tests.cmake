# HeartCodec: the parity runner over every codec_* fixture case, and CLI runs.
add_test(NAME codec.parity COMMAND ${HM_CLI} parity ${HM_SHARED_DIR}/fixtures --only codec --strict -t 2)
set(HM_CODEC_TEST_OUT ${CMAKE_CURRENT_BINARY_DIR}/codec_cli)
file(MAKE_DIRECTORY ${HM_CODEC_TEST_OUT})
add_test(NAME codec.cli_decode
         COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                 --codes ${HM_SHARED_DIR}/fixtures/codec_detok_short_codes.npy
                 -o ${HM_CODEC_TEST_OUT}/short.flac --steps 2 --seed 3 --overwrite -t 2)
set_tests_properties(codec.cli_decode PROPERTIES PASS_REGULAR_EXPRESSION "40 frames -> .*short.flac \\(3.20 s, 48000 Hz stereo\\)")
add_test(NAME codec.cli_decode_wrong_codebooks
         COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                 --codes ${HM_SHARED_DIR}/fixtures/mula_cfg15_prompt_tokens.npy -o ${HM_CODEC_TEST_OUT}/x.wav -q)
set_tests_properties(codec.cli_decode_wrong_codebooks PROPERTIES PASS_REGULAR_EXPRESSION "expected shape \\[8, frames\\]")
add_test(NAME codec.cli_decode_bad_extension
         COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                 --codes ${HM_SHARED_DIR}/fixtures/codec_detok_short_codes.npy -o ${HM_CODEC_TEST_OUT}/x.aiff -q)
set_tests_properties(codec.cli_decode_bad_extension PROPERTIES PASS_REGULAR_EXPRESSION "unknown extension")
add_test(NAME codec.cli_decode_missing_folder
         COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                 --codes ${HM_SHARED_DIR}/fixtures/codec_detok_short_codes.npy -o ${HM_CODEC_TEST_OUT}/no/such/dir/x.wav -q --steps 1)
set_tests_properties(codec.cli_decode_missing_folder PROPERTIES PASS_REGULAR_EXPRESSION "does not exist")
set_tests_properties(codec.test_detok_long codec.parity PROPERTIES LABELS slow)
