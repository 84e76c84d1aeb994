# Installation (cmake --install) and the .deb (cpack -G DEB):
#   bin/iostack                       the command
#   <libdir>/libiostack.so.0 (+ .so)  the engine and the C API
#   <libdir>/iostack/                 the drop-ins (private: not on the
#                                     loader's path, see compat/)
#   include/iostack/*.h               the C API
#   <libdir>/pkgconfig/iostack.pc     pkg-config
#   <libdir>/cmake/iostack/           find_package(iostack): iostack::iostack
include(CMakePackageConfigHelpers)

set(IOSTACK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/iostack)

install(TARGETS iostack_shared EXPORT iostackTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/iostack
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

# pkg-config: every path relative to the .pc file's own directory, so an
# install tree (or an unpacked .deb) works wherever it is, with or without
# `pkg-config --define-prefix`. That option replaces `prefix` with the
# directory two above the .pc file (wrong for a multiarch libdir such as
# lib/x86_64-linux-gnu) and rewrites values that start with the old prefix,
# so libdir and includedir neither use nor start with it.
set(_pc_dir ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH IOSTACK_PC_PREFIX ${_pc_dir} ${CMAKE_INSTALL_PREFIX})
file(RELATIVE_PATH IOSTACK_PC_LIBDIR ${_pc_dir} ${CMAKE_INSTALL_FULL_LIBDIR})
file(RELATIVE_PATH IOSTACK_PC_INCLUDEDIR ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_INCLUDEDIR})
foreach(v IOSTACK_PC_PREFIX IOSTACK_PC_LIBDIR IOSTACK_PC_INCLUDEDIR)
  string(REGEX REPLACE "/$" "" ${v} "${${v}}")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/iostack.pc.in ${PROJECT_BINARY_DIR}/iostack.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/iostack.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake package.
install(EXPORT iostackTargets NAMESPACE iostack:: DESTINATION ${IOSTACK_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/iostackConfig.cmake.in
  ${PROJECT_BINARY_DIR}/iostackConfig.cmake INSTALL_DESTINATION ${IOSTACK_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the ABI (the soname says 0 throughout).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/iostackConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/iostackConfig.cmake
  ${PROJECT_BINARY_DIR}/iostackConfigVersion.cmake DESTINATION ${IOSTACK_INSTALL_CMAKEDIR})

# The .deb installs under the configured prefix, so the drop-in path built
# into `iostack` (IOSTACK_PRIVATE_LIBDIR) is where the package puts them;
# configure with -DCMAKE_INSTALL_PREFIX=/usr for a system package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME iostack)
set(CPACK_PACKAGE_VENDOR iostack)
set(CPACK_PACKAGE_CONTACT "iostack developers <dev@iostack>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Linux's storage I/O path (io_uring, AIO, blk-mq) in user space")
# One line per control-file line (CPack indents them).
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION
  "iostack rebuilds io_uring, Linux AIO, the blk-mq block layer, its I/O"
  "schedulers and block drivers as a user-space library with the kernel's ABI."
  "Programs built for liburing or libaio run unmodified on it where the kernel"
  "refuses those calls (container seccomp profiles, gVisor)."
  "."
  "Contains the iostack command, libiostack.so.0 with its C headers, pkg-config"
  "and CMake files, and the drop-in liburing.so.2, libaio.so.1 and LD_PRELOAD"
  "shim in a private directory (${IOSTACK_PRIVATE_LIBDIR}).")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libiostack.so.0 in the package through the
# drop-ins' RUNPATH. The shlibs file names libiostack only: CPack's own
# (CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS) would also offer the private
# liburing.so.2 and libaio.so.1 to packages linking the system's.
set(_deb_control ${PROJECT_BINARY_DIR}/deb-control)
file(WRITE ${_deb_control}/shlibs
  "libiostack ${PROJECT_VERSION_MAJOR} iostack (>= ${PROJECT_VERSION})\n")
file(WRITE ${_deb_control}/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_deb_control}/shlibs ${_deb_control}/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
