# The packaging test (package_test.sh): the .deb, pkg-config and
# find_package(iostack), all in a temp dir. Included (deferred, at the top
# directory) from tests/CMakeLists.txt, after the compat helpers exist: a
# liburing program also runs on the drop-ins unpacked from the .deb.
set(_package_test_helpers)
if(TARGET compat_seccomp_exec AND TARGET compat_uring_one_engine)
  set(_package_test_helpers $<TARGET_FILE:compat_seccomp_exec> $<TARGET_FILE:compat_uring_one_engine>)
endif()
add_test(NAME Install.DebPkgConfigAndFindPackage
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/package_test.sh
    ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${CMAKE_BUILD_TYPE}" "${IOSTACK_SANITIZE}"
    ${CMAKE_COMMAND} ${CMAKE_CPACK_COMMAND} ${CMAKE_C_COMPILER} ${CMAKE_GENERATOR}
    ${_package_test_helpers})
set_tests_properties(Install.DebPkgConfigAndFindPackage PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
