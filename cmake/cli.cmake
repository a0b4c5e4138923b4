# cmake/cli.cmake: the `smneo` command line tool (cli/*.c) built from the
# core's objects, its plugins, its man page, and the CLI tests (tests/cli/,
# driven against smneo.local).
#
# The CLI links every library the core uses except libcurl and libarchive:
# core/lazy/lazy_deps.c stands in for their functions and loads them on first
# use from two plugins, smneo-curl.so and smneo-archive.so, each linking its
# library (cli/lazy.c finds them: next to the executable in smneo-plugins/ in
# the build tree, <libdir>/smneo when installed). digest, verify, validate,
# explain and help so start without loading their dependency trees
# (docs/architecture.md, "Lazy loading"; bench/README.md, "digest").
file(GLOB SMNEO_CLI_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cli/*.c)
add_executable(smneo_cli ${SMNEO_CLI_SOURCES} ${CMAKE_SOURCE_DIR}/core/lazy/lazy_deps.c $<TARGET_OBJECTS:smneo_obj>)
set_target_properties(smneo_cli PROPERTIES OUTPUT_NAME smneo RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_options(smneo_cli PRIVATE ${SMNEO_WARNINGS} -fvisibility=hidden)
file(RELATIVE_PATH SMNEO_CLI_PLUGIN_RELDIR ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR}/smneo)
target_compile_definitions(smneo_cli PRIVATE _GNU_SOURCE "SMNEO_CLI_PLUGIN_RELDIR=\"${SMNEO_CLI_PLUGIN_RELDIR}\"")
target_include_directories(smneo_cli PRIVATE ${CMAKE_SOURCE_DIR}/core/include ${CMAKE_SOURCE_DIR}/core/lazy
    $<TARGET_PROPERTY:PkgConfig::CURL,INTERFACE_INCLUDE_DIRECTORIES>
    $<TARGET_PROPERTY:PkgConfig::ARCHIVE,INTERFACE_INCLUDE_DIRECTORIES>)
set(SMNEO_CLI_DEPS ${SMNEO_DEPS})
list(REMOVE_ITEM SMNEO_CLI_DEPS PkgConfig::CURL PkgConfig::ARCHIVE)
target_link_libraries(smneo_cli PRIVATE ${SMNEO_CLI_DEPS} ${CMAKE_DL_LIBS})
install(TARGETS smneo_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

foreach(lib curl archive)
  string(TOUPPER ${lib} LIB)
  add_library(smneo_cli_${lib} MODULE ${CMAKE_SOURCE_DIR}/cli/plugin/plugin.c)
  set_target_properties(smneo_cli_${lib} PROPERTIES PREFIX "" OUTPUT_NAME smneo-${lib}
      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/smneo-plugins)
  target_compile_options(smneo_cli_${lib} PRIVATE ${SMNEO_WARNINGS} -fvisibility=hidden)
  target_compile_definitions(smneo_cli_${lib} PRIVATE SMNEO_PLUGIN_${LIB})
  target_link_libraries(smneo_cli_${lib} PRIVATE PkgConfig::${LIB})
  add_dependencies(smneo_cli smneo_cli_${lib})
  install(TARGETS smneo_cli_${lib} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/smneo)
endforeach()
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
  add_test(NAME cli_lazy COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_lazy.sh $<TARGET_FILE:smneo_cli>
           ${CMAKE_BINARY_DIR} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_lazy PROPERTIES TIMEOUT 120)
  add_test(NAME cli_transport COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_transport.sh $<TARGET_FILE:smneo_cli>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli_transport PROPERTIES TIMEOUT 120)
endif()
