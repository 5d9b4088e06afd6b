#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"
#include "netproxy/dns.h"

namespace k1s {

void ensureKubeDnsService(Client& c, const std::string& serviceIP, const std::string& serverIP) {
  auto& svcs = *findResource("", "services");
  auto& slices = *findResource("discovery.k8s.io", "endpointslices");
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
  Json slice = {{"metadata",
                 {{"name", "kube-dns-k1s"},
                  {"namespace", "kube-system"},
                  {"labels",
                   {{"kubernetes.io/service-name", "kube-dns"},
                    {"endpointslice.kubernetes.io/managed-by", "k1s-bootstrap"}}}}},
                {"addressType", "IPv4"},
                {"endpoints", {{{"addresses", {serverIP}}, {"conditions", {{"ready", true}}}}}},
                {"ports",
                 {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}},
                  {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}}}}};
  try {
    Json cur = c.get(slices, "kube-system", "kube-dns-k1s");
    if (cur["endpoints"] != slice["endpoints"]) {
      cur["endpoints"] = slice["endpoints"];
      c.update(slices, "kube-system", cur);
    }
  } catch (const ApiError& e) {
    if (e.code != 404) throw;
    c.create(slices, "kube-system", slice);
  }
}

}  // namespace k1s
