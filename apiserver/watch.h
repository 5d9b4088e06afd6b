// A watch over the store: initial state (for an unset or "0" resourceVersion),
// then live events filtered by label/field selectors, with objects leaving a
// selector reported as DELETED, bookmarks and a server-side timeout.
#pragma once
#include <memory>

#include "apiserver/store.h"
#include "common/client.h"

namespace k1s {

std::unique_ptr<Watch> makeWatch(Store& store, const ResourceInfo& r, const std::string& ns, const ListOptions& o);

}  // namespace k1s
