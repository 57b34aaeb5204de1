# src/acestep: ACE-Step v1. The fixture folder's stages this build implements are checked
# by `heartmula parity` (the others are listed as not implemented); bad input by test_umt5.
set(HM_AFIX ${HM_SHARED_DIR}/fixtures-acestep)
add_test(NAME acestep.cli_parity COMMAND ${HM_CLI} parity ${HM_AFIX} --strict -t 2)
hm_cli_test(NAME acestep.cli_parity_lists_todo STATUS 0 EXPECT "PASS  lyrics_lines.*TODO  dit +not implemented yet"
            COMMAND ${HM_CLI} parity ${HM_AFIX})
hm_cli_test(NAME acestep.cli_parity_missing EXPECT "fixtures-acestep/nowhere"
            COMMAND ${HM_CLI} parity ${HM_AFIX}/nowhere)
set_tests_properties(acestep.test_umt5 acestep.test_lyrics acestep.cli_parity acestep.cli_parity_lists_todo acestep.cli_parity_missing
                     PROPERTIES LABELS acestep)
