# Runs a command and checks both its exit status and its message (CTest's
# PASS_REGULAR_EXPRESSION ignores the exit status and WILL_FAIL ignores the
# message, so no test relies on either). Used through hm_cli_test() in
# tests/CMakeLists.txt:
#   -DCMD="a;b;c"       the command
#   -DEXPECT=regex      must match the chosen stream
#   -DSTATUS=fail|N     fail (default): exit status 1 or 2, a clean error, not a
#                       crash or a signal; N: exactly N (0 for a command that must succeed)
#   -DSTREAM=stderr|stdout|both   default: stderr when STATUS is fail, else stdout
if(NOT DEFINED STATUS OR STATUS STREQUAL "")
  set(STATUS fail)
endif()
if(NOT DEFINED STREAM OR STREAM STREQUAL "")
  if(STATUS STREQUAL "fail")
    set(STREAM stderr)
  else()
    set(STREAM stdout)
  endif()
endif()
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(STATUS STREQUAL "fail")
  if(NOT (rc STREQUAL "1" OR rc STREQUAL "2"))
    message(FATAL_ERROR "expected exit status 1 or 2, got '${rc}'\nstdout: ${out}\nstderr: ${err}")
  endif()
elseif(NOT rc STREQUAL "${STATUS}")
  message(FATAL_ERROR "expected exit status ${STATUS}, got '${rc}'\nstdout: ${out}\nstderr: ${err}")
endif()
if(STREAM STREQUAL "stderr")
  set(text "${err}")
elseif(STREAM STREQUAL "stdout")
  set(text "${out}")
else()
  set(text "${out}${err}")
endif()
if(NOT text MATCHES "${EXPECT}")
  message(FATAL_ERROR "${STREAM} does not match '${EXPECT}':\nstdout: ${out}\nstderr: ${err}")
endif()
