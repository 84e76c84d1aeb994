/* Files of an unmodified program backed by iostack devices (`iostack exec
 * --map PATH=SPEC`): the preload shim asks here whether a path or a
 * descriptor is mapped and hands the plain file calls on it to iostack,
 * which serves them through a small page cache model and the block layer.
 * Every call returns a value or -errno, as the system call would. */
#ifndef IOSTACK_MAP_H
#define IOSTACK_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "iostack/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads IOSTACK_EXEC_MAP (lines "PATH\tSPEC\tIMAGE", IMAGE may be empty;
 * a PATH ending in '/' is a directory, whose IMAGE is a directory too)
 * and IOSTACK_EXEC_POWERCUT, builds the devices and unsets both; with
 * mapped directories it serves them to its children and sets
 * IOSTACK_EXEC_MAP_SHARE, through which a program it (or a child) executes
 * reaches them. 1 when files are mapped, 0 when there is nothing to map,
 * -errno (after one line on stderr) on bad input. */
IOSTACK_API int iostack_map_init(void);

/* At a clean exit, before the engine's own teardown (the shim registers it
 * with atexit): the page cache is written back and flushed, as the kernel
 * would in time, and each image gets its whole file. */
IOSTACK_API void iostack_map_exit(void);

/* open(2) of `path` (absolute, or relative to the directory `dirfd` names,
 * AT_FDCWD included): a descriptor when the path is mapped, -errno, or
 * IOSTACK_MAP_NOT_MINE when the path is not mapped. The descriptor is one
 * of the file's (empty) placeholder on the real file system, so that fstat
 * and locks see one inode per file. */
#define IOSTACK_MAP_NOT_MINE (-100000)
IOSTACK_API int iostack_map_open(int dirfd, const char* path, int flags, unsigned mode);
/* unlink(2) of a mapped path: the file becomes empty; of a file in a mapped
 * directory: its name goes. NOT_MINE otherwise. */
IOSTACK_API int iostack_map_unlink(int dirfd, const char* path);
/* mkdir(2) and rmdir(2) of a subdirectory of a mapped directory (the
 * mapped directory itself: -EEXIST, -EBUSY); NOT_MINE for other paths. */
IOSTACK_API int iostack_map_mkdir(int dirfd, const char* path, unsigned mode);
IOSTACK_API int iostack_map_rmdir(int dirfd, const char* path);
/* renameat2(2) of names in a mapped directory (RENAME_NOREPLACE honoured);
 * -EXDEV when only one of them is; NOT_MINE when neither is. */
IOSTACK_API int iostack_map_rename(int olddirfd, const char* oldpath, int newdirfd,
                                   const char* newpath, unsigned flags);

/* 1 when `fd` is a descriptor of a mapped file, 2 of a mapped directory or
 * a subdirectory of one (only its fsync/fdatasync, dup and close come
 * here), 0 otherwise. */
IOSTACK_API int iostack_map_fd(int fd);

IOSTACK_API ssize_t iostack_map_rw(int fd, int write, const struct iovec* iov, int iovcnt,
                                   int64_t offset /* -1: the file position */);
IOSTACK_API int64_t iostack_map_lseek(int fd, int64_t offset, int whence);
IOSTACK_API int iostack_map_fsync(int fd, int datasync);
IOSTACK_API int iostack_map_sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned flags);
IOSTACK_API int iostack_map_fallocate(int fd, int mode, int64_t offset, int64_t len);
IOSTACK_API int iostack_map_ftruncate(int fd, int64_t length);
/* The file's size (fstat's st_size). */
IOSTACK_API int64_t iostack_map_size(int fd);
/* stat(2) of a path: the size of the mapped file it names (which its
 * placeholder does not have), -ENOENT for a name a mapped directory does
 * not hold (a placeholder left by an earlier run), or NOT_MINE. */
IOSTACK_API int64_t iostack_map_path_size(int dirfd, const char* path);
/* The inode fstat shows for a mapped file: its placeholder's on the real
 * file system, the same for every open of PATH (each open is a descriptor
 * of the placeholder, so POSIX and OFD locks and flock are the kernel's).
 * 0, or -errno. */
IOSTACK_API int iostack_map_ident(int fd, uint64_t* dev, uint64_t* ino);
/* mmap(2) of a mapped file: a descriptor of the shared memory that holds
 * the file's cached pages at their file offsets, which the caller maps in
 * its place (MAP_SHARED, or MAP_PRIVATE with PROT_WRITE left out of `prot`
 * here) and closes after when *owned is set (in a child of the program);
 * the pages of the range are read in. -EACCES, -EINVAL as mmap(2). */
IOSTACK_API int iostack_map_mmap(int fd, int64_t offset, uint64_t len, int prot, int* owned);
/* After a successful msync(2): with MS_SYNC the mapped files' pages in
 * [addr, addr + len) are written back and flushed (vfs_fsync_range).
 * 0 or -errno. */
IOSTACK_API int iostack_map_msync(void* addr, size_t len, int flags);
/* After dup(2) and friends made `newfd` a copy of `oldfd`. */
IOSTACK_API void iostack_map_dup(int oldfd, int newfd);
/* Before close(2) of `fd`: forgets it (the caller closes the descriptor). */
IOSTACK_API void iostack_map_close(int fd);

#ifdef __cplusplus
}
#endif

#endif /* IOSTACK_MAP_H */
