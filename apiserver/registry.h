// The registry: kube-apiserver's generic REST semantics over the store, for
// every kind. Implements Client, so in-process components and HTTP requests
// share one path: defaulting, validation, admission, resourceVersion, watch.
#pragma once
#include <memory>
#include <string>

#include "apiserver/store.h"
#include "common/client.h"

namespace k1s {

struct ClusterConfig {
  std::string serviceCIDR = "10.96.0.0/16";
  int nodePortMin = 30000, nodePortMax = 32767;
  std::string clusterDomain = "cluster.local";
  std::string clusterDNS = "10.96.0.10";
};

class Registry : public Client {
 public:
  Registry(Store& store, ClusterConfig cfg);

  Json create(const ResourceInfo& r, const std::string& ns, Json obj, const WriteOptions& o = {}) override;
  Json get(const ResourceInfo& r, const std::string& ns, const std::string& name,
           const std::string& sub = "") override;
  Json list(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) override;
  SharedList listShared(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) override;
  Json update(const ResourceInfo& r, const std::string& ns, Json obj, const std::string& sub = "",
              const WriteOptions& o = {}) override;
  Json patch(const ResourceInfo& r, const std::string& ns, const std::string& name, PatchType type,
             const Json& patch, const std::string& sub = "", const WriteOptions& o = {}) override;
  Json remove(const ResourceInfo& r, const std::string& ns, const std::string& name,
              const DeleteOptions& o = {}) override;
  std::unique_ptr<Watch> watch(const ResourceInfo& r, const std::string& ns, const ListOptions& o = {}) override;

  // What a write stored, shared (no copy): the object and its JSON text as saved.
  struct Stored {
    ObjectPtr object;
    std::shared_ptr<const std::string> encoded;  // null for a dry run
  };
  // create() without the copies, for the HTTP front that only sends the text back.
  // managedFields, when given, are stored with the object (a server-side apply's entry).
  Stored createStored(const ResourceInfo& r, const std::string& ns, Json obj, const WriteOptions& o = {},
                      const Json& managedFields = nullptr);
  // get() of a whole object without copying it; throws NotFound.
  ObjectPtr getShared(const ResourceInfo& r, const std::string& ns, const std::string& name);

  // DELETE on a collection: deletes every object matching the selectors; returns the List of deleted objects.
  Json removeCollection(const ResourceInfo& r, const std::string& ns, const ListOptions& lo,
                        const DeleteOptions& o = {});

  // Creates the default namespaces and the `kubernetes` Service when absent.
  void bootstrap(const std::string& apiServerIP, int apiServerPort);

  Store& store() { return store_; }
  const ClusterConfig& config() const { return cfg_; }

 private:
  Json write(const ResourceInfo& r, const std::string& ns, const std::string& name, Json obj,
             const std::string& sub, const WriteOptions& o, const std::string& expectRv, bool fromPatch);
  void admitCreate(Store::Txn& t, const ResourceInfo& r, Json& obj);
  void admitUpdate(Store::Txn& t, const ResourceInfo& r, Json& obj, const Json& old);
  void releaseOnDelete(Store::Txn& t, const ResourceInfo& r, const Json& obj);
  Json finishDelete(Store::Txn& t, const ResourceInfo& r, const Json& obj);

  Store& store_;
  ClusterConfig cfg_;
};

}  // namespace k1s
