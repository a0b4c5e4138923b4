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
install(FILES ${CMAKE_SOURCE_DIR}/cli/smneo.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

if(SMNEO_BUILD_TESTS)
  add_test(NAME cli COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_cli.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli PROPERTIES TIMEOUT 240)
endif()
