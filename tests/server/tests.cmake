# heartmula serve against a real server process (loopback, a temporary data folder, a demo
# checkpoint): the API, its errors, isolation, WebSocket events and live audio, durability, and
# the web UI in headless Chromium (label browser; screenshots in the build's server-browser/).
if(HM_HAVE_SERVER)
  add_executable(server_ws_client ${CMAKE_CURRENT_LIST_DIR}/ws_client.c)
  target_include_directories(server_ws_client PRIVATE ${HM_CIVETWEB_INCLUDE})
  target_link_libraries(server_ws_client PRIVATE ${HM_CIVETWEB_LIB} Threads::Threads)
  add_test(NAME server.api COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/api.sh ${HM_CLI} $<TARGET_FILE:server_ws_client>)
  add_test(NAME server.durability COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/durability.sh ${HM_CLI})
  add_test(NAME server.extras COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/extras.sh ${HM_CLI})
  add_test(NAME server.browser COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/browser.sh ${HM_CLI} ${CMAKE_BINARY_DIR}/server-browser)
  set_tests_properties(server.api server.durability server.extras PROPERTIES LABELS server SKIP_RETURN_CODE 77 TIMEOUT 600)
  set_tests_properties(server.browser PROPERTIES LABELS "server;browser" SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
