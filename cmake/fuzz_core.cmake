# cmake/fuzz_core.cmake: libFuzzer targets for the core's parsers of
# untrusted input.
#   fuzz_protocol: response bodies (all six operations, error bodies and
#     headers), params JSON (serialize, validate, signed build: no CR/LF in
#     any header), paginators and the waiter fed hostile pages.
#   fuzz_config: the shared config/credentials INI parser, container and
#     IMDS answers through the sans-I/O credential resolution, what a
#     credential_process prints, fuzzed config files through the chain, the
#     endpoint resolver and smneo_client_new.
#   fuzz_s3xml: the S3 XML scanner (error bodies, UploadId).
#   fuzz_sigv4: the signer on hostile URLs, headers, bodies, region/service.
#   fuzz_diagnose: smneo_explain on hostile descriptions and log lines.
#
# - SMNEO_FUZZ=ON with clang as the C compiler: targets `fuzz_protocol`,
#   `fuzz_config`, `fuzz_s3xml`, `fuzz_sigv4` and `fuzz_diagnose` (the whole
#   core instrumented).
# - Always (with the tests): ctest `fuzz_core_smoke` runs each for a few
#   seconds through tests/fuzz/run_core.sh, which builds them with clang
#   itself; skipped (exit 77) when clang/libFuzzer is missing. Longer runs:
#   tests/fuzz/run_core.sh protocol 600 (or config).

file(GLOB SMNEO_FUZZ_CORE_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/core/src/*.c)

if(SMNEO_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  foreach(t protocol config s3xml sigv4 diagnose)
    add_executable(fuzz_${t} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${t}.c ${SMNEO_FUZZ_CORE_SOURCES})
    target_include_directories(fuzz_${t} PRIVATE ${CMAKE_SOURCE_DIR}/core/include ${CMAKE_SOURCE_DIR}/core/src)
    target_compile_definitions(fuzz_${t} PRIVATE _GNU_SOURCE SMNEO_BUILDING)
    target_compile_options(fuzz_${t} PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined
                           -fno-sanitize-recover=undefined)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE ${SMNEO_DEPS})
  endforeach()
endif()

if(SMNEO_BUILD_TESTS)
  add_test(NAME fuzz_core_smoke
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run_core.sh all 5 ${CMAKE_BINARY_DIR}/fuzz-core)
  set_tests_properties(fuzz_core_smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()
