# cmake/abi.cmake: the ABI check of libsmneo.so (tools/check_abi.py, with
# libabigail's abidw/abidiff) against the recorded baseline abi/libsmneo.abi,
# and the checker's self-test. docs/c-api.md ("ABI") says what fails and how
# to record a new baseline (make abi-update).
#
# abidw reads the library's types from its debug information: when the build
# type has no -g (Release, which make test uses), libsmneo's own objects get
# -g, which changes no generated code. Not in sanitizer builds (make test runs
# the check in its main build).
option(SMNEO_ABI_CHECK "Check libsmneo's ABI in ctest (compiles libsmneo with -g)" ${SMNEO_BUILD_TESTS})
if(SMNEO_ABI_CHECK AND SMNEO_BUILD_TESTS AND NOT SMNEO_SANITIZE)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" SMNEO_BUILD_TYPE_UC)
  if(NOT (SMNEO_BUILD_TYPE_UC MATCHES "^(RELWITHDEBINFO|DEBUG)$" OR CMAKE_C_FLAGS MATCHES "(^| )-g"))
    target_compile_options(smneo_obj PRIVATE -g)
  endif()
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME abi_check
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tools/check_abi.py $<TARGET_FILE:smneo_shared>)
    add_test(NAME abi_check_selftest
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tools/check_abi.py --self-test
                     $<TARGET_FILE:smneo_shared>)
    # 77: abigail-tools missing (make deps installs it) or another architecture
    set_tests_properties(abi_check abi_check_selftest PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endif()
