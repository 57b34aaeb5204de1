# Out of disk space: every CLI output under a file-size limit (no partial or
# clobbered file). prlimit comes with util-linux.
find_program(HM_PRLIMIT prlimit)
if(HM_PRLIMIT)
  add_test(NAME io.fault_fsize COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/fault_fsize.sh ${HM_CLI} ${HM_SHARED_DIR})
endif()
