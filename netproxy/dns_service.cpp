#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"
#include "netproxy/dns.h"

namespace k1s {

namespace {

// Creates `want`, or brings the fields that matter (`fields`) of the stored
// object back to it: run at every start, so an address that changed with the
// daemon's flags (or an object someone edited) is right again.
void ensureObject(Client& c, const ResourceInfo& r, const std::string& ns, const Json& want,
                  std::initializer_list<const char*> fields) {
  std::string name = want["metadata"]["name"];
  try {
    Json cur = c.get(r, ns, name);
    bool changed = false;
    for (const char* f : fields)
      if (cur.value(f, Json()) != want[f]) {
        cur[f] = want[f];
        changed = true;
      }
    Json& labels = cur["metadata"]["labels"];
    for (const auto& [k, v] : want["metadata"]["labels"].items())
      if (!labels.is_object() || labels.value(k, Json()) != v) {
        labels[k] = v;
        changed = true;
      }
    if (changed) c.update(r, ns, cur);
  } catch (const ApiError& e) {
    if (e.code != 404) throw;
    c.create(r, ns, want);
  }
}

}  // namespace

void ensureKubeDnsService(Client& c, const std::string& serviceIP, const std::string& serverIP,
                          const std::string& nodeName) {
  auto& svcs = *findResource("", "services");
  Json ports = {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 53}},
                {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}, {"targetPort", 53}}};
  try {
    c.get(svcs, "kube-system", "kube-dns");
  } catch (const ApiError& e) {
    if (e.code != 404) throw;
    c.create(svcs, "kube-system",
             {{"metadata",
               {{"name", "kube-dns"},
                {"labels", {{"k8s-app", "kube-dns"}, {"kubernetes.io/name", "CoreDNS"}}}}},
              {"spec", {{"clusterIP", serviceIP}, {"ports", ports}}}});
  }
  // DNS is served by this process, not by a pod: the Service has no selector,
  // so, like kube-apiserver for default/kubernetes, the daemon writes both the
  // Endpoints (what `kubectl get ep` and the /ui/ page read) and the
  // EndpointSlice (what the proxy reads). skip-mirror keeps the mirroring
  // controller from adding a second slice for the same address.
  Json address = {{"ip", serverIP}};
  if (!nodeName.empty()) address["nodeName"] = nodeName;
  Json ep = {{"metadata",
              {{"name", "kube-dns"},
               {"namespace", "kube-system"},
               {"labels",
                {{"k8s-app", "kube-dns"},
                 {"kubernetes.io/name", "CoreDNS"},
                 {"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
             {"subsets",
              {{{"addresses", {address}},
                {"ports",
                 {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                  {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}}}}}}}};
  ensureObject(c, *findResource("", "endpoints"), "kube-system", ep, {"subsets"});
  Json endpoint = {{"addresses", {serverIP}}, {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}}};
  if (!nodeName.empty()) endpoint["nodeName"] = nodeName;
  Json slice = {{"metadata",
                 {{"name", "kube-dns-k1s"},
                  {"namespace", "kube-system"},
                  {"labels",
                   {{"kubernetes.io/service-name", "kube-dns"},
                    {"endpointslice.kubernetes.io/managed-by", "k1s-bootstrap"}}}}},
                {"addressType", "IPv4"},
                {"endpoints", {endpoint}},
                {"ports",
                 {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                  {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}}}}};
  ensureObject(c, *findResource("discovery.k8s.io", "endpointslices"), "kube-system", slice, {"endpoints", "ports"});
}

}  // namespace k1s
