// Shared informers: one list+watch and one cache per (resource, namespace, selectors) in the
// process, whoever needs it (the controllers, the scheduler, the kubelet, DNS, the proxy), as
// client-go's SharedInformerFactory. The factory rides on the Client every component is
// already given (Client::informers()), so sharing needs no extra wiring.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/informer.h"

namespace k1s {

class SharedInformerFactory {
 public:
  explicit SharedInformerFactory(Client& c) : client_(c) {}
  // The informer for (r, ns, selectors), made on first use and kept while anyone holds it;
  // the last holder's release stops it.
  std::shared_ptr<Informer> informer(const ResourceInfo& r, const std::string& ns = "",
                                     const ListOptions& selectors = {});
  size_t live();  // informers held now
  // The one thread that runs them all (informer_dispatcher.h).
  std::shared_ptr<InformerDispatcher> dispatcher() { return dispatcher_; }

 private:
  Client& client_;
  std::shared_ptr<InformerDispatcher> dispatcher_ = std::make_shared<InformerDispatcher>();
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<Informer>> informers_;
};

// One consumer's use of shared informers: takes them from the client's factory, registers its
// handlers, starts them and waits for their caches; stop() removes its handlers (nothing is
// called on the consumer afterwards), and the informers stop when their last user is gone.
class InformerSet {
 public:
  explicit InformerSet(Client& c) : client_(c) {}
  ~InformerSet() { stop(); }
  Informer& use(const ResourceInfo& r, const std::string& ns = "", const ListOptions& selectors = {});
  void on(Informer& inf, InformerHandlers h);
  // Starts the informers, then blocks until each has filled its cache, as client-go's
  // WaitForCacheSync: workers must not start on a partial view. False only if stop() came first.
  bool start();
  void stop();

 private:
  Client& client_;
  std::vector<std::shared_ptr<Informer>> informers_;
  std::vector<std::pair<Informer*, Informer::HandlerId>> handlers_;
  std::atomic<bool> stopped_{false};
};

}  // namespace k1s
