# src/transcriptor: CLI runs on the Whisper fixtures (parity, the json test
# from issue 7, bad input) and the transcription bench on a generated tiny model.
set(HM_WFIX ${HM_SHARED_DIR}/fixtures-whisper)
add_test(NAME transcriptor.cli_parity COMMAND ${HM_CLI} parity ${HM_WFIX} --strict -t 2)
add_test(NAME transcriptor.cli_json
         COMMAND ${CMAKE_COMMAND} -DCLI=${HM_CLI} -DFIX=${HM_WFIX} -P ${CMAKE_CURRENT_LIST_DIR}/cli_json.cmake)
add_test(NAME transcriptor.cli_lrc COMMAND ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav --format lrc
         --max-new-tokens 30 -q)
set_tests_properties(transcriptor.cli_lrc PROPERTIES PASS_REGULAR_EXPRESSION "^\\[00:00\\.86\\]是\n\\[00:14\\.70\\]quently\n")
add_test(NAME transcriptor.cli_missing_audio
         COMMAND ${CMAKE_COMMAND} "-DCMD=${HM_CLI};transcribe;--model;${HM_WFIX};${HM_WFIX}/no_such.wav"
                 "-DEXPECT=cannot read audio file" -P ${CMAKE_CURRENT_LIST_DIR}/cli_expect.cmake)
add_test(NAME transcriptor.cli_not_audio
         COMMAND ${CMAKE_COMMAND} "-DCMD=${HM_CLI};transcribe;--model;${HM_WFIX};${HM_WFIX}/config.json"
                 "-DEXPECT=cannot read audio file" -P ${CMAKE_CURRENT_LIST_DIR}/cli_expect.cmake)
add_test(NAME transcriptor.cli_missing_model
         COMMAND ${CMAKE_COMMAND} "-DCMD=${HM_CLI};transcribe;--model;${HM_WFIX}/nowhere;${HM_WFIX}/jfk.wav"
                 "-DEXPECT=does not exist" -P ${CMAKE_CURRENT_LIST_DIR}/cli_expect.cmake)
add_test(NAME transcriptor.cli_bad_format
         COMMAND ${CMAKE_COMMAND} "-DCMD=${HM_CLI};transcribe;--model;${HM_WFIX};${HM_WFIX}/jfk.wav;--format;docx"
                 "-DEXPECT=unknown 'docx'" -P ${CMAKE_CURRENT_LIST_DIR}/cli_expect.cmake)
add_test(NAME transcriptor.cli_bad_language
         COMMAND ${CMAKE_COMMAND} "-DCMD=${HM_CLI};transcribe;--model;${HM_WFIX};${HM_WFIX}/jfk.wav;--language;xx"
                 "-DEXPECT=not a Whisper language" -P ${CMAKE_CURRENT_LIST_DIR}/cli_expect.cmake)
add_test(NAME transcriptor.cli_bench_tiny
         COMMAND ${HM_CLI} bench --mode transcribe --model ${HM_WFIX} --windows 1 --tokens 8 -t 2)
set_tests_properties(transcriptor.cli_bench_tiny PROPERTIES PASS_REGULAR_EXPRESSION "decoder ms/token")
add_test(NAME transcriptor.cli_no_clobber
         COMMAND ${CMAKE_COMMAND} "-DCMD=${HM_CLI};transcribe;--model;${HM_WFIX};${HM_WFIX}/jfk.wav;-o;${HM_WFIX}/config.json"
                 "-DEXPECT=already exists" -P ${CMAKE_CURRENT_LIST_DIR}/cli_expect.cmake)
add_test(NAME transcriptor.cli_output_file
         COMMAND ${CMAKE_COMMAND} -E env ${HM_CLI} transcribe --model ${HM_WFIX} ${HM_WFIX}/jfk.wav --max-new-tokens 5 -q
                 --overwrite -o ${CMAKE_CURRENT_BINARY_DIR}/transcriptor_jfk.srt)
