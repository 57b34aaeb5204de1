# The Python binding over libheartmula.so (not in sanitizer builds: python would need the
# sanitizer runtime preloaded).
if(NOT HM_SANITIZE AND NOT HM_FUZZ)
  add_test(NAME python.binding COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:heartmula_shared>
           ${CMAKE_SOURCE_DIR}/bindings/python ${HM_SHARED_DIR} ${HM_CLI})
  set_tests_properties(python.binding PROPERTIES SKIP_RETURN_CODE 77)
endif()
