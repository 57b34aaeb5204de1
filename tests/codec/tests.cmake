# HeartCodec: the parity runner over every codec_* fixture case, and CLI runs.
add_test(NAME codec.parity COMMAND ${HM_CLI} parity ${HM_SHARED_DIR}/fixtures --only codec --strict -t 2)
set(HM_CODEC_TEST_OUT ${CMAKE_CURRENT_BINARY_DIR}/codec_cli)
file(MAKE_DIRECTORY ${HM_CODEC_TEST_OUT})
hm_cli_test(NAME codec.cli_decode STATUS 0 STREAM both EXPECT "40 frames -> .*short.flac \\(3.20 s, 48000 Hz stereo\\)"
            COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                    --codes ${HM_SHARED_DIR}/fixtures/codec_detok_short_codes.npy
                    -o ${HM_CODEC_TEST_OUT}/short.flac --steps 2 --seed 3 --overwrite -t 2)
hm_cli_test(NAME codec.cli_decode_wrong_codebooks EXPECT "expected shape \\[8, frames\\]"
            COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                    --codes ${HM_SHARED_DIR}/fixtures/mula_cfg15_prompt_tokens.npy -o ${HM_CODEC_TEST_OUT}/x.wav -q)
hm_cli_test(NAME codec.cli_decode_bad_extension EXPECT "unknown extension"
            COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                    --codes ${HM_SHARED_DIR}/fixtures/codec_detok_short_codes.npy -o ${HM_CODEC_TEST_OUT}/x.aiff -q)
hm_cli_test(NAME codec.cli_decode_missing_folder EXPECT "does not exist"
            COMMAND ${HM_CLI} decode --codec ${HM_SHARED_DIR}/fixtures/heartcodec
                    --codes ${HM_SHARED_DIR}/fixtures/codec_detok_short_codes.npy -o ${HM_CODEC_TEST_OUT}/no/such/dir/x.wav -q --steps 1)
set_tests_properties(codec.test_detok_long codec.parity PROPERTIES LABELS slow)
# code == codebook_size (one past the codebook) decodes as the last code with a
# warning, through decode and through a --continue-from history; further out is an error
add_test(NAME codec.cli_codes_edge COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_codes_edge.sh ${HM_CLI} ${HM_SHARED_DIR})
