# The test harness checked by itself: zero checks fail, skips are skips.
foreach(t no_checks skips)
  add_executable(harness_selftest_${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${CMAKE_CURRENT_LIST_DIR}/../harness.c)
  target_include_directories(harness_selftest_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..)
endforeach()
hm_cli_test(NAME harness.no_checks_fails EXPECT "no check ran" COMMAND $<TARGET_FILE:harness_selftest_no_checks>)
hm_cli_test(NAME harness.skip_exits_77 STATUS 77 EXPECT "SKIPPED: nothing to test on this machine"
            COMMAND $<TARGET_FILE:harness_selftest_skips>)
hm_cli_test(NAME harness.skip_after_failure_fails STATUS 1 EXPECT "1 failed; SKIPPED" STREAM both
            COMMAND ${CMAKE_COMMAND} -E env HM_SELFTEST_FAIL_FIRST=1 $<TARGET_FILE:harness_selftest_skips>)
