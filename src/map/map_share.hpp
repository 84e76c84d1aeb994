// How the children of a mapped program reach its mapped directories: the
// process `iostack exec` started holds the devices and the page cache, and
// serves the calls its forked and executed descendants make on files in
// those directories over a UNIX socket (one connection per process, one
// call at a time), so that every process sees one file system, as they
// would share the kernel's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace iostack::map {

enum class ShareOp : std::uint32_t {
  kOpen = 1,   // path, flags -> (dir << 32) | ino, the open held for the connection
  kLookup,     // path -> (dir << 32) | ino of an existing name (flags 1: held as kOpen)
  kUnlink,     // path
  kRename,     // path, path2, flags
  kPathSize,   // path -> size
  kRw,         // dir, ino, a=offset, flags=write...; data in or out; aux: where it went
  kFsync,      // dir, ino (0: the directory path p1 from the top, "" the top)
  kSize,       // dir, ino -> size
  kTruncate,   // dir, ino, a=length
  kAllocate,   // dir, ino, a=offset, b=len
  kWriteback,  // dir, ino, a=lo, b=hi
  kMkdir,      // path, flags=mode
  kRmdir,      // path
  kShare,      // dir, ino, a=offset, b=len -> 0, the file's shared memory passed along
  kRelease,    // dir, ino: a close of an open the connection holds
};

struct ShareRequest {
  ShareOp op;
  std::int32_t flags = 0;
  std::uint32_t dir = 0;
  std::uint32_t ino = 0;
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::uint32_t len1 = 0;  // bytes of the first path
  std::uint32_t len2 = 0;  // bytes of the second path, or of the data written
};

// The owner's answer to one request on connection `conn` (1, 2, ...): the
// result (or -errno), for a read the bytes read in `out`, and a second value
// in `aux` (0 unless set).
using ShareHandler =
    std::function<std::int64_t(const ShareRequest& rq, const std::string& p1, const std::string& p2,
                               std::string* out, std::int64_t* aux, std::uint64_t conn)>;
// A connection ended (its process exited or executed another program): what
// it held goes, as the kernel closes a dead process's files.
using ShareClosed = std::function<void(std::uint64_t conn)>;

// Listens on an abstract UNIX socket named after this process and serves
// each connection on a thread of its own: the name, or empty on failure.
std::string share_listen(ShareHandler handler, ShareClosed closed);

// One call to the owner listening at `name` (from this process's own
// connection, made again after a fork). `in`: the data written by kRw;
// `out`: room for the data a kRw read returns. The result, or -ENOTCONN
// when the owner is gone (its power was cut, or it ended). kShare's
// handler answers a descriptor of the owner's, which the caller gets as a
// descriptor of its own (SCM_RIGHTS). `aux`, if given, gets the handler's.
std::int64_t share_call(const std::string& name, const ShareRequest& rq, const std::string& p1,
                        const std::string& p2, const void* in, void* out,
                        std::int64_t* aux = nullptr);

// Around fork (pthread_atfork): the client's connection lock is held across
// it, so that a child never starts with it taken by a thread it lacks.
void share_fork_prepare();
void share_fork_done();   // in the parent
void share_fork_child();  // in the child

}  // namespace iostack::map
