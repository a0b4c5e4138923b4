# cmake/cli.cmake: the `smneo` command line tool (cli/*.c) linked to the
# static libsmneo, its man page, and the CLI test (tests/cli/test_cli.sh,
# driven against smneo.local).
file(GLOB SMNEO_CLI_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cli/*.c)
add_executable(smneo_cli ${SMNEO_CLI_SOURCES})
set_target_properties(smneo_cli PROPERTIES OUTPUT_NAME smneo RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_options(smneo_cli PRIVATE ${SMNEO_WARNINGS})
target_compile_definitions(smneo_cli PRIVATE _GNU_SOURCE)
target_link_libraries(smneo_cli PRIVATE smneo_static)
install(TARGETS smneo_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The installed man page names the version (from version.h) in its footer.
file(READ ${CMAKE_SOURCE_DIR}/cli/smneo.1 SMNEO_MAN_PAGE)
string(REPLACE "\"smneo\" \"User Commands\"" "\"smneo ${PROJECT_VERSION}\" \"User Commands\""
       SMNEO_MAN_PAGE "${SMNEO_MAN_PAGE}")
file(WRITE ${CMAKE_BINARY_DIR}/smneo.1.tmp "${SMNEO_MAN_PAGE}")
configure_file(${CMAKE_BINARY_DIR}/smneo.1.tmp ${CMAKE_BINARY_DIR}/smneo.1 COPYONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cli/smneo.1)
install(FILES ${CMAKE_BINARY_DIR}/smneo.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

if(SMNEO_BUILD_TESTS)
  add_test(NAME cli COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_cli.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli PROPERTIES TIMEOUT 240)
  add_test(NAME cli_logs COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_logs.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_logs PROPERTIES TIMEOUT 240)
  add_test(NAME cli_credentials COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_credentials.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_credentials PROPERTIES TIMEOUT 240)
  add_test(NAME cli_s3 COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_s3.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_s3 PROPERTIES TIMEOUT 240)
  add_test(NAME cli_matrix COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_matrix.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_matrix PROPERTIES TIMEOUT 240)
  add_test(NAME cli_transport COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_transport.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_transport PROPERTIES TIMEOUT 120)
endif()
