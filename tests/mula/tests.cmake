# HeartMuLa CLI cases: parity on the shared fixtures (every mula_* case, strict),
# the checkpoint generator and the LM bench on a generated tiny checkpoint.
add_test(NAME mula.cli_parity COMMAND ${HM_CLI} parity ${HM_SHARED_DIR}/fixtures --only mula --strict)
set(HM_MULA_CK ${CMAKE_BINARY_DIR}/mula_tiny_ckpt)
add_test(NAME mula.cli_make_checkpoint
         COMMAND ${HM_CLI} make-checkpoint --flavor tiny --out ${HM_MULA_CK} --seed 7 --shards 2 --force)
set_tests_properties(mula.cli_make_checkpoint PROPERTIES FIXTURES_SETUP mula_tiny_ckpt)
hm_cli_test(NAME mula.cli_bench_tiny STATUS 0 STREAM both
            EXPECT "\"format\": \"bf16\".*\"ms_per_frame\": [0-9.]+, \"bandwidth_gbs\""
            COMMAND ${HM_CLI} bench --mode lm --model-path ${HM_MULA_CK}/HeartMuLa-oss-tiny --frames 8 --no-probe --json)
set_tests_properties(mula.cli_bench_tiny PROPERTIES FIXTURES_REQUIRED mula_tiny_ckpt)
hm_cli_test(NAME mula.cli_make_checkpoint_bad_flavor EXPECT "unknown --flavor '9B'"
            COMMAND ${HM_CLI} make-checkpoint --flavor 9B --out ${HM_MULA_CK}_bad)
hm_cli_test(NAME mula.cli_bench_missing EXPECT "mula_tiny_ckpt_missing: no such folder"
            COMMAND ${HM_CLI} bench --mode lm --model-path ${HM_MULA_CK}_missing)
# quantize -> load round trip through the CLI: a quantized model folder next to the
# original loads by mmap (its Q8_0 matrices used in place) and generates.
set(HM_Q_CK ${CMAKE_BINARY_DIR}/mula_quant_ckpt)
add_test(NAME mula.cli_quantize_roundtrip COMMAND bash -c
  "set -e; rm -rf ${HM_Q_CK}; ${HM_CLI} make-checkpoint --flavor demo --out ${HM_Q_CK} --seed 4 >/dev/null;
   ${HM_CLI} quantize ${HM_Q_CK}/HeartMuLa-oss-demo ${HM_Q_CK}/HeartMuLa-oss-demo-q8_0 --type q8_0 --keep-embeddings;
   test -f ${HM_Q_CK}/HeartMuLa-oss-demo-q8_0/config.json;
   ${HM_CLI} info ${HM_Q_CK} | grep -q 'HeartMuLa-oss-demo-q8_0 .*Q8_0';
   ${HM_CLI} generate --model-path ${HM_Q_CK} --version demo-q8_0 --lyrics 'la la' --tags pop --max-audio-length-ms 800 --seed 1 --codes-only --save-codes ${HM_Q_CK}/q.npy -q;
   ${HM_CLI} bench --mode lm --model-path ${HM_Q_CK}/HeartMuLa-oss-demo-q8_0 --format as-stored --frames 4 --no-probe --json | grep -q '\"format\": *\"as-stored\"'")
