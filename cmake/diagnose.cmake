# cmake/diagnose.cmake: checks of the diagnosis (docs/diagnosis.md): the
# generated catalogue table and docs list must match model/neo-failures.json,
# and `smneo explain` is driven against smneo.local (tests/cli/test_explain.sh).
if(SMNEO_BUILD_TESTS)
  add_test(NAME diagnosis_tables_regenerate
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/core/check_diagnosis_tables.sh ${CMAKE_SOURCE_DIR})
  if(TARGET smneo_cli)
    add_test(NAME cli_explain COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/test_explain.sh $<TARGET_FILE:smneo_cli>
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(cli_explain PROPERTIES TIMEOUT 240)
  endif()
endif()
