// The engine registry and the parts every engine shares.
#include "job/engine.hpp"

#include "job/engine_bio.hpp"
#include "job/engine_libaio.hpp"
#include "job/engine_null.hpp"
#include "job/engine_sync.hpp"
#include "job/engine_uring.hpp"

namespace iostack::job {

std::unique_ptr<Engine> make_engine(const std::string& name, std::string* err) {
  if (name == "bio") return std::make_unique<BioEngine>();
  if (name == "psync" || name == "sync" || name == "pvsync" || name == "pvsync2")
    return std::make_unique<SyncEngine>(name);
  if (name == "libaio") return std::make_unique<LibaioEngine>();
  if (name == "io_uring") return std::make_unique<UringEngine>();
  if (name == "null") return std::make_unique<NullEngine>();
  *err = "ioengine=" + name + ": unknown engine";
  return nullptr;
}

}  // namespace iostack::job
