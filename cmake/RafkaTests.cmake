# ctest: the header compiles cleanly as C99 and C++; the C tests run against the real broker
# (RAFKA_BOOTSTRAP), then again under ASan+UBSan and under valgrind memcheck.
set(RAFKA_TEST_ENV "RAFKA_BOOTSTRAP=$ENV{RAFKA_BOOTSTRAP}")
if("$ENV{RAFKA_BOOTSTRAP}" STREQUAL "")
  set(RAFKA_TEST_ENV "RAFKA_BOOTSTRAP=127.0.0.1:19092")
endif()

# --- the generated header is current, and clean as C99, C11, C++11 and C++17 -----------------
find_program(CBINDGEN cbindgen)
if(CBINDGEN)
  add_test(NAME header.generated_is_current COMMAND ${CMAKE_SOURCE_DIR}/ffi/gen-header --check)
endif()
foreach(std c99 c11)
  add_test(NAME header.compiles_as_${std}
    COMMAND ${CMAKE_C_COMPILER} -std=${std} -Wall -Wextra -Wpedantic -Werror -fsyntax-only
            -I${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests/c/header_only.c)
endforeach()
add_test(NAME header.hpp_compiles_as_c++17
  COMMAND ${CMAKE_CXX_COMPILER} -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++
          -I${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests/cpp/hpp_only.cpp)
foreach(std c++11 c++17)
  add_test(NAME header.compiles_as_${std}
    COMMAND ${CMAKE_CXX_COMPILER} -std=${std} -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++
            -I${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests/c/header_only.c)
endforeach()

set(RAFKA_C_CASES version conf_set_results producer_new_with_bad_conf_keeps_conf error_names
  null_pointers produce_roundtrip non_utf8_topic oversized_message produce_after_close
  close_in_callback poll_from_threads thread_mode purge purge_partition produce_timeout missing_topic_queues debug_log_lines error_cb partitioner_cb
  builtin_partitioners interceptors txn_visibility txn_fencing
  txn_send_offsets txn_misuse sasl_set_credentials stats_cb spool_recovered_cb spool_recovered_cb_none)

function(rafka_c_test target lib)
  add_executable(${target} tests/c/test_capi.c)
  set_target_properties(${target} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  target_compile_definitions(${target} PRIVATE RAFKA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_compile_options(${target} PRIVATE ${RAFKA_WARNINGS})
  target_link_libraries(${target} PRIVATE ${lib} Threads::Threads)
endfunction()

# --- plain, against the shared library -------------------------------------------------------
rafka_c_test(test_capi rafka::rafka)
foreach(case ${RAFKA_C_CASES})
  add_test(NAME c.${case} COMMAND test_capi ${case})
  set_tests_properties(c.${case} PROPERTIES ENVIRONMENT "${RAFKA_TEST_ENV}" TIMEOUT 120 LABELS c)
endforeach()

# Under the sanitizers and valgrind librafka allocates with the C library's malloc (not mimalloc),
# so that leak checks see its allocations too (ffi/src/alloc.rs).
set(RAFKA_CHECKED_ALLOC "RAFKA_ALLOCATOR=system")

# --- AddressSanitizer + UBSan: the C side instrumented, linked with the static library --------
rafka_c_test(test_capi_asan rafka::rafka_static)
target_compile_options(test_capi_asan PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
target_link_options(test_capi_asan PRIVATE -fsanitize=address,undefined)
foreach(case ${RAFKA_C_CASES})
  add_test(NAME asan.${case} COMMAND test_capi_asan ${case})
  set_tests_properties(asan.${case} PROPERTIES
    ENVIRONMENT "${RAFKA_TEST_ENV};${RAFKA_CHECKED_ALLOC};ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    TIMEOUT 180 LABELS asan)
endforeach()

# --- valgrind memcheck: every case in one run, no errors and no definite leaks ----------------
find_program(VALGRIND valgrind)
if(VALGRIND)
  add_test(NAME valgrind.c_all
    COMMAND ${VALGRIND} --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
            --show-leak-kinds=definite,indirect --track-origins=yes $<TARGET_FILE:test_capi> all)
  set_tests_properties(valgrind.c_all PROPERTIES ENVIRONMENT "${RAFKA_TEST_ENV};${RAFKA_CHECKED_ALLOC}" TIMEOUT 600 LABELS valgrind)
endif()

# --- C++ wrapper: GoogleTest, plain and under ASan+UBSan --------------------------------------
find_package(GTest)
if(GTest_FOUND)
  function(rafka_cpp_test target prefix)
    add_executable(${target} tests/cpp/test_rafka_cpp.cpp)
    target_compile_definitions(${target} PRIVATE RAFKA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
    target_compile_options(${target} PRIVATE ${RAFKA_WARNINGS})
    target_link_libraries(${target} PRIVATE rafka::rafka_cpp GTest::gtest GTest::gtest_main Threads::Threads)
    if("${ARGN}" STREQUAL "asan")
      set(env "${RAFKA_TEST_ENV};${RAFKA_CHECKED_ALLOC}")
    else()
      set(env "${RAFKA_TEST_ENV}")
    endif()
    gtest_discover_tests(${target} TEST_PREFIX ${prefix}
      PROPERTIES ENVIRONMENT "${env}" TIMEOUT 120 LABELS ${ARGN})
  endfunction()
  include(GoogleTest)
  rafka_cpp_test(test_rafka_cpp cpp. cpp)
  rafka_cpp_test(test_rafka_cpp_asan asan.cpp. asan)
  target_compile_options(test_rafka_cpp_asan PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(test_rafka_cpp_asan PRIVATE -fsanitize=address,undefined)
else()
  message(WARNING "GoogleTest not found: the C++ wrapper tests are not built (apt-get install libgtest-dev)")
endif()

# --- the installed package, used from outside the tree (find_package CONFIG and pkg-config) ----
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  add_test(NAME install.find_package_and_pkg_config
    COMMAND ${CMAKE_SOURCE_DIR}/tests/c/install/run ${CMAKE_BINARY_DIR})
  set_tests_properties(install.find_package_and_pkg_config PROPERTIES TIMEOUT 300 LABELS install)
endif()
