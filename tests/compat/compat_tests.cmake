# Wiring for test_compat, which tests/CMakeLists.txt creates from
# tests/compat/*.cpp. Included (deferred, at the top directory) from
# compat/CMakeLists.txt, once both the drop-ins and test_compat exist:
# builds the helper programs and hands every path to the tests.
if(NOT TARGET test_compat)
  return()
endif()

set(_compat_out ${PROJECT_BINARY_DIR}/tests/compat)

# A helper program: tests/compat/NAME.c built as NAME beside the tests,
# ready before test_compat, whose code finds it at IOSTACK_COMPAT_<NAME>.
# Further arguments are what it links.
function(compat_program name)
  set(target compat_${name})
  add_executable(${target} ${PROJECT_SOURCE_DIR}/tests/compat/${name}.c)
  if(ARGN)
    target_link_libraries(${target} PRIVATE ${ARGN})
  endif()
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${name} RUNTIME_OUTPUT_DIRECTORY ${_compat_out})
  add_dependencies(test_compat ${target})
  string(TOUPPER ${name} upper)
  target_compile_definitions(test_compat PRIVATE IOSTACK_COMPAT_${upper}="$<TARGET_FILE:${target}>")
endfunction()

# Runs PROGRAM with the kernel's io_uring and AIO system calls answering EPERM.
compat_program(seccomp_exec)

# A liburing program linked with the SYSTEM liburing.so.2.
compat_program(uring_client PkgConfig::LIBURING)

# A program built for liburing 2.4-2.9, taking the newer functions by version.
compat_program(newer_liburing_client PkgConfig::LIBURING ${CMAKE_DL_LIBS})

# Raw io_uring system calls on a ring descriptor used as a file (dup, poll, epoll).
compat_program(ring_fd_client)
# A ring closed while mapped, unmapped through libc and with an inline munmap.
compat_program(ring_lifetime_client)
# One engine behind every door: rings and AIO contexts made through the
# SYSTEM liburing / libaio API, driven through raw system calls, and back.
compat_program(uring_one_engine PkgConfig::LIBURING)
find_library(IOSTACK_SYSTEM_LIBAIO NAMES aio)
if(IOSTACK_LIBAIO_INCLUDE AND IOSTACK_SYSTEM_LIBAIO)
  compat_program(aio_one_engine ${IOSTACK_SYSTEM_LIBAIO})
  target_include_directories(compat_aio_one_engine PRIVATE ${IOSTACK_LIBAIO_INCLUDE})
endif()
# A program with its own SIGSEGV handler that passes bad pointers to the
# io_uring and AIO system calls.
compat_program(sigchain_client)

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
compat_program(rename_update)

# Writes a mapped file through stdio, with its own `syscall` instructions,
# and from a forked child (iostack exec --map).
compat_program(stdio_sync)

# POSIX and OFD locks and flock, printed step by step (compared between a
# real file and a mapped one).
compat_program(file_locks)

# A POSIX lock seen by a child after requests that hold the file.
compat_program(held_locks PkgConfig::LIBURING)

# io_uring O_DIRECT write and read of a file watched by inotify.
compat_program(fsnotify_client PkgConfig::LIBURING)

# A forked child's requests on its parent's ring, cancelled by its exec.
compat_program(exec_cancel PkgConfig::LIBURING)

# io_uring and AIO direct I/O against a file's size, printed step by step.
compat_program(direct_size PkgConfig::LIBURING)

# MAP_SHARED mappings against read/write, msync and fork, printed step by step.
compat_program(mmap_shared)

# io_uring and AIO, buffered and O_DIRECT, against a MAP_SHARED mapping
# and read(2) of the same pages, step by step.
compat_program(engine_coherence PkgConfig::LIBURING)

# io_uring and AIO writes on O_APPEND descriptors and with RWF_APPEND /
# RWF_NOAPPEND, step by step.
compat_program(engine_append PkgConfig::LIBURING)

# io_uring and AIO writes, 8 in turn with RWF_DSYNC, for a power cut
# between them (--powercut=calls=N).
compat_program(engine_cut PkgConfig::LIBURING)

# Paths with ".." below a directory: open, stat, rename, unlink, mkdir.
compat_program(dotdot)

# A forked child's own open of a file the parent then unlinks.
compat_program(child_open)

# A MAP_SHARED mapping of a file after its unlink, step by step.
compat_program(mmap_unlink)

# Loads and stores through a MAP_SHARED mapping around the end of the file
# (SIGBUS past it), as ftruncate and writes move it, step by step.
compat_program(mmap_eof)

# io_uring at offset -1 against read/lseek's file position, step by step.
compat_program(uring_pos PkgConfig::LIBURING)

# io_uring and AIO from forked and executed children, step by step.
compat_program(child_uring PkgConfig::LIBURING)

add_dependencies(test_compat iostack_shared)
target_compile_definitions(test_compat PRIVATE
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
  compat_program(static_uring_client ${IOSTACK_LIBURING_STATIC})
endif()

# Inline io_uring system calls and ring mmaps, signal masks, an exec'd child.
compat_program(trap_client Threads::Threads)

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
