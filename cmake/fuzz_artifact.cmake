# cmake/fuzz_artifact.cmake: the libFuzzer target for the artifact reader
# (smneo_artifact_inspect + smneo_artifact_extract on arbitrary bytes).
#
# - SMNEO_FUZZ=ON with clang as the C compiler: target `fuzz_artifact`.
# - Always (with the tests): ctest `fuzz_artifact_smoke` runs it for a few
#   seconds through tests/fuzz/run_artifact.sh, which builds it with clang
#   itself; skipped (exit 77) when clang/libFuzzer is missing.

set(SMNEO_FUZZ_ARTIFACT_SOURCES
    ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_artifact.c
    ${CMAKE_SOURCE_DIR}/core/src/artifact_digest.c ${CMAKE_SOURCE_DIR}/core/src/artifact_extract.c
    ${CMAKE_SOURCE_DIR}/core/src/artifact_gzip.c ${CMAKE_SOURCE_DIR}/core/src/artifact_inspect.c
    ${CMAKE_SOURCE_DIR}/core/src/artifact_pack.c ${CMAKE_SOURCE_DIR}/core/src/artifact_read.c
    ${CMAKE_SOURCE_DIR}/core/src/issues.c ${CMAKE_SOURCE_DIR}/core/src/util.c ${CMAKE_SOURCE_DIR}/core/src/http.c
    ${CMAKE_SOURCE_DIR}/core/src/error.c ${CMAKE_SOURCE_DIR}/core/src/options.c
    ${CMAKE_SOURCE_DIR}/core/src/validate_text.c ${CMAKE_SOURCE_DIR}/core/src/json.c)

if(SMNEO_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_executable(fuzz_artifact ${SMNEO_FUZZ_ARTIFACT_SOURCES})
  target_include_directories(fuzz_artifact PRIVATE ${CMAKE_SOURCE_DIR}/core/include ${CMAKE_SOURCE_DIR}/core/src)
  target_compile_definitions(fuzz_artifact PRIVATE _GNU_SOURCE SMNEO_BUILDING)
  target_compile_options(fuzz_artifact PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=undefined)
  target_link_options(fuzz_artifact PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_artifact PRIVATE ${SMNEO_DEPS})
endif()

if(SMNEO_BUILD_TESTS)
  add_test(NAME fuzz_artifact_smoke
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run_artifact.sh 10 ${CMAKE_BINARY_DIR}/fuzz-artifact)
  set_tests_properties(fuzz_artifact_smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
