// Where the iostack command finds its drop-in libraries (lib/iostack/).
#pragma once

#include <string>

namespace iostack::tool {

// The directory holding the drop-ins (libiostack_preload.so, liburing.so.2,
// libaio.so.1) for the running binary, or "" when none is found. Looked
// for next to the binary first, so a build tree or a relocated install
// uses its own: <dir of iostack>/lib/iostack (build tree), then
// <bindir>/../<libdir>/iostack (installed); then IOSTACK_PRIVATE_LIBDIR,
// the configured install path.
std::string dropin_dir();

// The same search for the binary `exe`, with `private_libdir` last.
std::string dropin_dir(const std::string& exe, const std::string& private_libdir);

}  // namespace iostack::tool
