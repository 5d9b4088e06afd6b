#include "common/informer_factory.h"

#include "common/log.h"

namespace k1s {

SharedInformerFactory& Client::informers() {
  std::call_once(informersOnce_, [this] { informers_ = std::make_shared<SharedInformerFactory>(*this); });
  return *informers_;
}

Client::SharedList Client::listShared(const ResourceInfo& r, const std::string& ns, const ListOptions& o) {
  ListOptions all = o;
  all.limit = 0;
  all.continueToken.clear();
  Json l = list(r, ns, all);
  SharedList out;
  out.resourceVersion = l["metadata"].value("resourceVersion", "");
  for (auto& item : l["items"]) {
    Json obj = std::move(item);
    obj["kind"] = r.kind;
    obj["apiVersion"] = r.apiVersion();
    out.items.push_back(std::make_shared<const Json>(std::move(obj)));
  }
  return out;
}

std::shared_ptr<Informer> SharedInformerFactory::informer(const ResourceInfo& r, const std::string& ns,
                                                          const ListOptions& selectors) {
  std::string key = r.groupResource() + "|" + (r.namespaced ? ns : "") + "|" + selectors.labelSelector + "|" +
                    selectors.fieldSelector;
  std::lock_guard<std::mutex> l(mu_);
  if (auto inf = informers_[key].lock()) return inf;
  ListOptions sel;
  sel.labelSelector = selectors.labelSelector;
  sel.fieldSelector = selectors.fieldSelector;
  auto inf = std::make_shared<Informer>(client_, r, r.namespaced ? ns : "", sel);
  informers_[key] = inf;
  return inf;
}

size_t SharedInformerFactory::live() {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (auto it = informers_.begin(); it != informers_.end();) {
    if (it->second.expired()) {
      it = informers_.erase(it);
    } else {
      ++n;
      ++it;
    }
  }
  return n;
}

Informer& InformerSet::use(const ResourceInfo& r, const std::string& ns, const ListOptions& selectors) {
  informers_.push_back(client_.informers().informer(r, ns, selectors));
  return *informers_.back();
}

void InformerSet::on(Informer& inf, InformerHandlers h) { handlers_.emplace_back(&inf, inf.addHandlers(std::move(h))); }

bool InformerSet::start() {
  for (auto& i : informers_) i->start();
  for (auto& i : informers_) {
    int waited = 0;
    while (!i->waitForSync(std::chrono::seconds(1))) {
      if (stopped_) return false;
      if (++waited % 10 == 0)
        LOGW("informers", "cache not filled yet resource=" << i->resource().groupResource() << " after " << waited
                                                           << " s");
    }
  }
  return !stopped_;
}

void InformerSet::stop() {
  stopped_ = true;
  for (auto& [inf, id] : handlers_) inf->removeHandlers(id);
  handlers_.clear();
}

}  // namespace k1s
