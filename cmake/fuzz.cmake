# cmake/fuzz.cmake: the libFuzzer target for the validator's parsers
# (DataInputConfig, CompilerOptions, smneo_validate).
#
# - SMNEO_FUZZ=ON with clang as the C compiler: target `fuzz_validate`, the
#   validator sources instrumented (-fsanitize=fuzzer,address,undefined).
#   Run it longer with tests/fuzz/run.sh 600 (or the binary directly).
# - Always (with the tests): ctest `fuzz_validate_smoke` runs the fuzzer for a
#   few seconds through tests/fuzz/run.sh, which builds it with clang itself;
#   skipped (exit 77) when clang/libFuzzer is missing.

set(SMNEO_FUZZ_SOURCES
    ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_validate.c
    ${CMAKE_SOURCE_DIR}/core/src/validate.c ${CMAKE_SOURCE_DIR}/core/src/validate_neo.c
    ${CMAKE_SOURCE_DIR}/core/src/validate_text.c ${CMAKE_SOURCE_DIR}/core/src/json.c ${CMAKE_SOURCE_DIR}/core/src/issues.c
    ${CMAKE_SOURCE_DIR}/core/src/model.c ${CMAKE_SOURCE_DIR}/core/src/model_tables.c
    ${CMAKE_SOURCE_DIR}/core/src/util.c ${CMAKE_SOURCE_DIR}/core/src/http.c
    ${CMAKE_SOURCE_DIR}/core/src/error.c ${CMAKE_SOURCE_DIR}/core/src/options.c)

if(SMNEO_FUZZ)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_validate ${SMNEO_FUZZ_SOURCES})
    target_include_directories(fuzz_validate PRIVATE ${CMAKE_SOURCE_DIR}/core/include ${CMAKE_SOURCE_DIR}/core/src)
    target_compile_definitions(fuzz_validate PRIVATE _GNU_SOURCE SMNEO_BUILDING)
    target_compile_options(fuzz_validate PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined
                           -fno-sanitize-recover=undefined)
    target_link_options(fuzz_validate PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_validate PRIVATE ${SMNEO_DEPS})
  else()
    message(WARNING "SMNEO_FUZZ=ON needs clang (configure with CC=clang): fuzz_validate not built; "
                    "tests/fuzz/run.sh builds it with clang on its own")
  endif()
endif()

if(SMNEO_BUILD_TESTS)
  add_test(NAME fuzz_validate_smoke
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run.sh 5 ${CMAKE_BINARY_DIR}/fuzz)
  set_tests_properties(fuzz_validate_smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
