# Wiring for test_compat, which tests/CMakeLists.txt creates from
# tests/compat/*.cpp. Included (deferred, at the top directory) from
# compat/CMakeLists.txt, once both the drop-ins and test_compat exist:
# builds the helper programs and hands every path to the tests.
if(NOT TARGET test_compat)
  return()
endif()

set(_compat_out ${PROJECT_BINARY_DIR}/tests/compat)

# Runs PROGRAM with the kernel's io_uring and AIO system calls answering EPERM.
add_executable(compat_seccomp_exec ${PROJECT_SOURCE_DIR}/tests/compat/seccomp_exec.c)
set_target_properties(compat_seccomp_exec PROPERTIES
  OUTPUT_NAME seccomp_exec RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# A liburing program linked with the SYSTEM liburing.so.2.
add_executable(compat_uring_client ${PROJECT_SOURCE_DIR}/tests/compat/uring_client.c)
target_link_libraries(compat_uring_client PRIVATE PkgConfig::LIBURING)
set_target_properties(compat_uring_client PROPERTIES
  OUTPUT_NAME uring_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# A program built for liburing 2.4-2.9, taking the newer functions by version.
add_executable(compat_newer_liburing_client
  ${PROJECT_SOURCE_DIR}/tests/compat/newer_liburing_client.c)
target_link_libraries(compat_newer_liburing_client PRIVATE PkgConfig::LIBURING ${CMAKE_DL_LIBS})
set_target_properties(compat_newer_liburing_client PROPERTIES
  OUTPUT_NAME newer_liburing_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# Raw io_uring system calls on a ring descriptor used as a file (dup, poll, epoll).
add_executable(compat_ring_fd_client ${PROJECT_SOURCE_DIR}/tests/compat/ring_fd_client.c)
set_target_properties(compat_ring_fd_client PROPERTIES
  OUTPUT_NAME ring_fd_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
# One engine behind every door: rings and AIO contexts made through the
# SYSTEM liburing / libaio API, driven through raw system calls, and back.
add_executable(compat_uring_one_engine ${PROJECT_SOURCE_DIR}/tests/compat/uring_one_engine.c)
target_link_libraries(compat_uring_one_engine PRIVATE PkgConfig::LIBURING)
set_target_properties(compat_uring_one_engine PROPERTIES
  OUTPUT_NAME uring_one_engine RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
add_dependencies(test_compat compat_uring_one_engine)
target_compile_definitions(test_compat PRIVATE
  IOSTACK_COMPAT_URING_ONE_ENGINE="$<TARGET_FILE:compat_uring_one_engine>")
find_library(IOSTACK_SYSTEM_LIBAIO NAMES aio)
if(IOSTACK_LIBAIO_INCLUDE AND IOSTACK_SYSTEM_LIBAIO)
  add_executable(compat_aio_one_engine ${PROJECT_SOURCE_DIR}/tests/compat/aio_one_engine.c)
  target_include_directories(compat_aio_one_engine PRIVATE ${IOSTACK_LIBAIO_INCLUDE})
  target_link_libraries(compat_aio_one_engine PRIVATE ${IOSTACK_SYSTEM_LIBAIO})
  set_target_properties(compat_aio_one_engine PROPERTIES
    OUTPUT_NAME aio_one_engine RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
  add_dependencies(test_compat compat_aio_one_engine)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_COMPAT_AIO_ONE_ENGINE="$<TARGET_FILE:compat_aio_one_engine>")
endif()
# A program with its own SIGSEGV handler that passes bad pointers to the
# io_uring and AIO system calls.
add_executable(compat_sigchain_client ${PROJECT_SOURCE_DIR}/tests/compat/sigchain_client.c)
set_target_properties(compat_sigchain_client PROPERTIES
  OUTPUT_NAME sigchain_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

find_library(IOSTACK_SYSTEM_LIBURING NAMES liburing.so.2)
find_program(IOSTACK_OBJDUMP objdump)
find_program(IOSTACK_NM nm)
find_program(IOSTACK_READELF readelf)
if(IOSTACK_NM AND IOSTACK_READELF)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_NM="${IOSTACK_NM}" IOSTACK_READELF="${IOSTACK_READELF}")
endif()

# Writes a file, fsyncs it and renames it over the old one, with and without
# the fsync of the directory (iostack crash on --map DIR/).
add_executable(compat_rename_update ${PROJECT_SOURCE_DIR}/tests/compat/rename_update.c)
set_target_properties(compat_rename_update PROPERTIES
  OUTPUT_NAME rename_update RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# Writes a mapped file through stdio, with its own `syscall` instructions,
# and from a forked child (iostack exec --map).
add_executable(compat_stdio_sync ${PROJECT_SOURCE_DIR}/tests/compat/stdio_sync.c)
set_target_properties(compat_stdio_sync PROPERTIES
  OUTPUT_NAME stdio_sync RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# POSIX and OFD locks and flock, printed step by step (compared between a
# real file and a mapped one).
add_executable(compat_file_locks ${PROJECT_SOURCE_DIR}/tests/compat/file_locks.c)
set_target_properties(compat_file_locks PROPERTIES
  OUTPUT_NAME file_locks RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# io_uring and AIO direct I/O against a file's size, printed step by step.
add_executable(compat_direct_size ${PROJECT_SOURCE_DIR}/tests/compat/direct_size.c)
target_link_libraries(compat_direct_size PRIVATE PkgConfig::LIBURING)
set_target_properties(compat_direct_size PROPERTIES
  OUTPUT_NAME direct_size RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# MAP_SHARED mappings against read/write, msync and fork, printed step by step.
add_executable(compat_mmap_shared ${PROJECT_SOURCE_DIR}/tests/compat/mmap_shared.c)
set_target_properties(compat_mmap_shared PROPERTIES
  OUTPUT_NAME mmap_shared RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# io_uring at offset -1 against read/lseek's file position, step by step.
add_executable(compat_uring_pos ${PROJECT_SOURCE_DIR}/tests/compat/uring_pos.c)
target_link_libraries(compat_uring_pos PRIVATE PkgConfig::LIBURING)
set_target_properties(compat_uring_pos PROPERTIES
  OUTPUT_NAME uring_pos RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

# io_uring and AIO from forked and executed children, step by step.
add_executable(compat_child_uring ${PROJECT_SOURCE_DIR}/tests/compat/child_uring.c)
target_link_libraries(compat_child_uring PRIVATE PkgConfig::LIBURING)
set_target_properties(compat_child_uring PROPERTIES
  OUTPUT_NAME child_uring RUNTIME_OUTPUT_DIRECTORY ${_compat_out})

add_dependencies(test_compat compat_uring_pos compat_child_uring compat_mmap_shared compat_direct_size compat_file_locks compat_rename_update compat_stdio_sync compat_seccomp_exec compat_uring_client compat_newer_liburing_client compat_ring_fd_client compat_sigchain_client iostack_shared)
target_compile_definitions(test_compat PRIVATE
  IOSTACK_COMPAT_SECCOMP_EXEC="$<TARGET_FILE:compat_seccomp_exec>"
  IOSTACK_COMPAT_URING_CLIENT="$<TARGET_FILE:compat_uring_client>"
  IOSTACK_COMPAT_NEWER_LIBURING_CLIENT="$<TARGET_FILE:compat_newer_liburing_client>"
  IOSTACK_COMPAT_RING_FD_CLIENT="$<TARGET_FILE:compat_ring_fd_client>"
  IOSTACK_COMPAT_SIGCHAIN_CLIENT="$<TARGET_FILE:compat_sigchain_client>"
  IOSTACK_COMPAT_RENAME_UPDATE="$<TARGET_FILE:compat_rename_update>"
  IOSTACK_COMPAT_STDIO_SYNC="$<TARGET_FILE:compat_stdio_sync>"
  IOSTACK_COMPAT_FILE_LOCKS="$<TARGET_FILE:compat_file_locks>"
  IOSTACK_COMPAT_DIRECT_SIZE="$<TARGET_FILE:compat_direct_size>"
  IOSTACK_COMPAT_MMAP_SHARED="$<TARGET_FILE:compat_mmap_shared>"
  IOSTACK_COMPAT_URING_POS="$<TARGET_FILE:compat_uring_pos>"
  IOSTACK_COMPAT_CHILD_URING="$<TARGET_FILE:compat_child_uring>"
  IOSTACK_COMPAT_SCRATCH_DIR="${_compat_out}"
  IOSTACK_LIBIOSTACK="$<TARGET_FILE:iostack_shared>"
  IOSTACK_COMPAT_DROPIN_DIR="${IOSTACK_DROPIN_OUTPUT_DIR}")
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
if(TARGET iostack_libaio)
  add_dependencies(test_compat iostack_libaio)
  target_compile_definitions(test_compat PRIVATE IOSTACK_COMPAT_LIBAIO="$<TARGET_FILE:iostack_libaio>")
endif()
if(TARGET iostack_preload)
  add_dependencies(test_compat iostack_preload)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_COMPAT_PRELOAD="$<TARGET_FILE:iostack_preload>")
endif()

# The same kind of program linked with the system's liburing.a: all of its
# io_uring work is inline `syscall` instructions (the shim's trap and
# call-site rewriting).
find_library(IOSTACK_LIBURING_STATIC NAMES liburing.a)
if(IOSTACK_LIBURING_STATIC)
  add_executable(compat_static_uring_client ${PROJECT_SOURCE_DIR}/tests/compat/static_uring_client.c)
  target_link_libraries(compat_static_uring_client PRIVATE ${IOSTACK_LIBURING_STATIC})
  set_target_properties(compat_static_uring_client PROPERTIES
    OUTPUT_NAME static_uring_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
  add_dependencies(test_compat compat_static_uring_client)
  target_compile_definitions(test_compat PRIVATE
    IOSTACK_COMPAT_STATIC_URING_CLIENT="$<TARGET_FILE:compat_static_uring_client>")
endif()

# Inline io_uring system calls and ring mmaps, signal masks, an exec'd child.
add_executable(compat_trap_client ${PROJECT_SOURCE_DIR}/tests/compat/trap_client.c)
target_link_libraries(compat_trap_client PRIVATE Threads::Threads)
set_target_properties(compat_trap_client PROPERTIES
  OUTPUT_NAME trap_client RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
add_dependencies(test_compat compat_trap_client)
target_compile_definitions(test_compat PRIVATE
  IOSTACK_COMPAT_TRAP_CLIENT="$<TARGET_FILE:compat_trap_client>")

# The call-site rewriter, tested on its own with a test dispatcher.
if(TARGET iostack_preload_rewrite)
  target_link_libraries(test_compat PRIVATE iostack_preload_rewrite)
  target_compile_definitions(test_compat PRIVATE IOSTACK_COMPAT_REWRITE=1)
endif()

# `iostack exec`, the way users start programs on iostack.
if(TARGET iostack-cli)
  add_dependencies(test_compat iostack-cli)
  target_compile_definitions(test_compat PRIVATE IOSTACK_COMPAT_IOSTACK="$<TARGET_FILE:iostack-cli>")
endif()

# examples/net/uring_echo.c: the echo server and load client, linked with
# the SYSTEM liburing, run on the kernel and on the drop-in.
add_executable(compat_uring_echo ${PROJECT_SOURCE_DIR}/examples/net/uring_echo.c)
target_link_libraries(compat_uring_echo PRIVATE PkgConfig::LIBURING Threads::Threads)
set_target_properties(compat_uring_echo PROPERTIES
  OUTPUT_NAME uring_echo RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
add_dependencies(test_compat compat_uring_echo)
target_compile_definitions(test_compat PRIVATE
  IOSTACK_COMPAT_URING_ECHO="$<TARGET_FILE:compat_uring_echo>")
