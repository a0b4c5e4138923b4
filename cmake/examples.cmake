# cmake/examples.cmake: the C examples (examples/c/*.c), built against the
# shared libsmneo and the public headers only, as a program of yours would be
# (cc prog.c $(pkg-config --cflags --libs smneo)), and run against the local
# endpoint by tests/examples/test_c_examples.sh (part of make test).
file(GLOB SMNEO_C_EXAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/c/*.c)
foreach(src ${SMNEO_C_EXAMPLES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(example_${name} ${src})
  set_target_properties(example_${name} PROPERTIES OUTPUT_NAME ${name}
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/examples)
  target_compile_options(example_${name} PRIVATE ${SMNEO_WARNINGS})
  target_link_libraries(example_${name} PRIVATE smneo_shared)
endforeach()

if(SMNEO_BUILD_TESTS)
  add_test(NAME examples_c
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/examples/test_c_examples.sh ${CMAKE_BINARY_DIR}/examples
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(examples_c PROPERTIES TIMEOUT 240)
endif()
