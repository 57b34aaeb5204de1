# src/transcriptor: CLI runs on the Whisper fixtures (parity, the json test
# from issue 7, bad input) and the transcription bench on a generated tiny model.
set(HM_WFIX ${HM_SHARED_DIR}/fixtures-whisper)
add_test(NAME transcriptor.cli_parity COMMAND ${HM_CLI} parity ${HM_WFIX} --strict -t 2)
add_test(NAME transcriptor.cli_json
         COMMAND ${CMAKE_COMMAND} -DCLI=${HM_CLI} -DFIX=${HM_WFIX} -P ${CMAKE_CURRENT_LIST_DIR}/cli_json.cmake)
hm_cli_test(NAME transcriptor.cli_lrc STATUS 0 EXPECT "^\\[00:00\\.86\\]是\n\\[00:14\\.70\\]quently\n"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav --format lrc --max-new-tokens 30 -q)
hm_cli_test(NAME transcriptor.cli_missing_audio EXPECT "cannot read audio file"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/no_such.wav)
hm_cli_test(NAME transcriptor.cli_not_audio EXPECT "not an audio file we can read: .*config.json \\(libsndfile: [^;]+; mpg123: [^)]+\\)"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/config.json)
hm_cli_test(NAME transcriptor.cli_missing_model EXPECT "does not exist"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX}/nowhere ${HM_WFIX}/jfk.wav)
hm_cli_test(NAME transcriptor.cli_bad_format EXPECT "unknown 'docx'"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav --format docx)
hm_cli_test(NAME transcriptor.cli_bad_language EXPECT "not a Whisper language"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav --language xx)
hm_cli_test(NAME transcriptor.cli_bench_tiny STATUS 0 STREAM both EXPECT "decoder ms/token"
            COMMAND ${HM_CLI} bench --mode transcribe --model ${HM_WFIX} --windows 1 --tokens 8 -t 2)
hm_cli_test(NAME transcriptor.cli_no_clobber EXPECT "already exists"
            COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav -o ${HM_WFIX}/config.json)
add_test(NAME transcriptor.cli_output_file
         COMMAND ${CMAKE_COMMAND} -E env ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav --max-new-tokens 5 -q
                 --overwrite -o ${CMAKE_CURRENT_BINARY_DIR}/transcriptor_jfk.srt)
