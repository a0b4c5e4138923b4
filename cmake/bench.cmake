# cmake/bench.cmake: benchmark programs under bench/. Not built by default and
# never run by the tests: `make bench` builds them and runs every benchmark
# (bench/README.md); or `cmake --build build --target sign_bench`, then
# `python3 bench/bench_sign.py` (see that script).

add_executable(sign_bench EXCLUDE_FROM_ALL ${CMAKE_SOURCE_DIR}/bench/sign_bench.c)
target_compile_options(sign_bench PRIVATE ${SMNEO_WARNINGS})
target_compile_definitions(sign_bench PRIVATE _GNU_SOURCE)
target_link_libraries(sign_bench PRIVATE smneo_static)

# core_bench: in-process build (validate + serialize + sign) and parse cost;
# `python3 bench/bench_core.py` runs it beside botocore.
add_executable(core_bench EXCLUDE_FROM_ALL ${CMAKE_SOURCE_DIR}/bench/core_bench.c)
target_compile_options(core_bench PRIVATE ${SMNEO_WARNINGS})
target_compile_definitions(core_bench PRIVATE _GNU_SOURCE)
target_link_libraries(core_bench PRIVATE smneo_static)

# describe_bench: DescribeCompilationJob calls/s through smneo_client_call,
# the C baseline `python3 bench/bench_python.py` compares the binding with.
add_executable(describe_bench EXCLUDE_FROM_ALL ${CMAKE_SOURCE_DIR}/bench/describe_bench.c)
target_compile_options(describe_bench PRIVATE ${SMNEO_WARNINGS})
target_compile_definitions(describe_bench PRIVATE _GNU_SOURCE)
target_link_libraries(describe_bench PRIVATE smneo_static)

# model_gen: the model directory bench/bench_artifact.py packs.
add_executable(model_gen EXCLUDE_FROM_ALL ${CMAKE_SOURCE_DIR}/bench/model_gen.c)
target_compile_options(model_gen PRIVATE ${SMNEO_WARNINGS})
target_link_libraries(model_gen PRIVATE m)
