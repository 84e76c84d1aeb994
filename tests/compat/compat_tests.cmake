# Wiring for test_compat, which tests/CMakeLists.txt creates from
# tests/compat/*.cpp. Included (deferred, at the top directory) from
# compat/CMakeLists.txt, once both the drop-ins and test_compat exist:
# builds the helper programs and hands every path to the tests.
if(NOT TARGET test_compat)
  return()
endif()

set(_compat_out ${PROJECT_BINARY_DIR}/tests/compat)

# Runs PROGRAM with the kernel's io_uring system calls answering EPERM.
add_executable(compat_seccomp_exec ${PROJECT_SOURCE_DIR}/tests/compat/seccomp_exec.c)
set_target_properties(compat_seccomp_exec PROPERTIES
  OUTPUT_NAME seccomp_exec RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# A liburing program linked with the SYSTEM liburing.so.2.
add_executable(compat_uring_client ${PROJECT_SOURCE_DIR}/tests/compat/uring_client.c)
target_link_libraries(compat_uring_client PRIVATE PkgConfig::LIBURING)
set_target_properties(compat_uring_client PROPERTIES
  OUTPUT_NAME uring_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# A program with its own SIGSEGV handler that passes bad pointers to the
# io_uring and AIO system calls.
add_executable(compat_sigchain_client ${PROJECT_SOURCE_DIR}/tests/compat/sigchain_client.c)
set_target_properties(compat_sigchain_client PROPERTIES
  OUTPUT_NAME sigchain_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

find_library(IOSTACK_SYSTEM_LIBURING NAMES liburing.so.2)
find_program(IOSTACK_OBJDUMP objdump)

add_dependencies(test_compat compat_seccomp_exec compat_uring_client compat_sigchain_client)
target_compile_definitions(test_compat PRIVATE
  IOSTACK_COMPAT_SECCOMP_EXEC="$<TARGET_FILE:compat_seccomp_exec>"
  IOSTACK_COMPAT_URING_CLIENT="$<TARGET_FILE:compat_uring_client>"
  IOSTACK_COMPAT_SIGCHAIN_CLIENT="$<TARGET_FILE:compat_sigchain_client>"
  IOSTACK_COMPAT_SCRATCH_DIR="${_compat_out}")
if(IOSTACK_SYSTEM_LIBURING AND IOSTACK_OBJDUMP)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_SYSTEM_LIBURING="${IOSTACK_SYSTEM_LIBURING}" IOSTACK_OBJDUMP="${IOSTACK_OBJDUMP}")
endif()
if(TARGET iostack_liburing)
  add_dependencies(test_compat iostack_liburing)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_COMPAT_LIBURING="$<TARGET_FILE:iostack_liburing>"
    IOSTACK_COMPAT_LIBURING_DIR="$<TARGET_FILE_DIR:iostack_liburing>")
endif()
if(TARGET iostack_preload)
  add_dependencies(test_compat iostack_preload)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_COMPAT_PRELOAD="$<TARGET_FILE:iostack_preload>")
endif()
