# Runs a command that must fail cleanly: exit status 1 or 2 (not a crash) and
# stderr matching EXPECT. -DCMD="a;b;c" -DEXPECT=regex
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT (rc EQUAL 1 OR rc EQUAL 2))
  message(FATAL_ERROR "expected exit status 1 or 2, got '${rc}'\nstderr: ${err}")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "stderr does not match '${EXPECT}':\n${err}")
endif()
