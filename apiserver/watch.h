// A watch over the store: initial state (for an unset or "0" resourceVersion),
// then live events filtered by label/field selectors, with objects leaving a
// selector reported as DELETED, bookmarks and a server-side timeout.
#pragma once
#include <memory>

#include "apiserver/store.h"
#include "common/client.h"

namespace k1s {

// The store's watch also hands out events without copying: the shared object
// and its JSON text made once at commit (the HTTP layer streams that text).
class StoreWatchStream : public Watch {
 public:
  struct Event {
    std::string type;
    ObjectPtr object;
    std::shared_ptr<const std::string> encoded;  // null for BOOKMARK
  };
  using Watch::nextShared;  // the Client's overload stays visible beside this one
  virtual bool nextShared(Event& out, std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<Watch> makeWatch(Store& store, const ResourceInfo& r, const std::string& ns, const ListOptions& o);

}  // namespace k1s
