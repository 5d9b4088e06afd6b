// describe: secrets (value sizes only, never the values) and service accounts,
// laid out as kubectl's describers do.
#include "cli/kubectl_describe.h"
#include "cli/kubectl_client.h"
#include "common/meta.h"

namespace k1s::cli {

std::string describeSecret(const Json& secret, const Fetch& fetch, long long now) {
  const Json& meta = metaOf(secret);
  std::string out = "Name:\t" + meta.value("name", "") + "\nNamespace:\t" + meta.value("namespace", "") + "\n";
  out += labelsMultiline("Labels", meta.value("labels", Json::object()));
  out += annotationsMultiline("Annotations", meta.value("annotations", Json::object()));
  std::string type = secret.value("type", "");
  out += "\nType:\t" + type + "\n\nData\n====\n";
  const Json data = secret.value("data", Json::object());
  for (auto& [key, v] : data.items()) {
    std::string value = v.is_string() ? base64Decode(v.get<std::string>()) : "";
    // A service account token is meant to be read; other values show only their size.
    if (key == "token" && type == "kubernetes.io/service-account-token")
      out += key + ":\t" + value + "\n";
    else
      out += key + ":\t" + std::to_string(value.size()) + " bytes\n";
  }
  return out;
}

std::string describeServiceAccount(const Json& sa, const Fetch& fetch, long long now) {
  const Json& meta = metaOf(sa);
  std::string out = "Name:\t" + meta.value("name", "") + "\nNamespace:\t" + meta.value("namespace", "") + "\n";
  out += labelsMultiline("Labels", meta.value("labels", Json::object()));
  out += annotationsMultiline("Annotations", meta.value("annotations", Json::object()));
  auto section = [&](const std::string& header, const char* field) {
    std::vector<std::string> names;
    for (auto& ref : sa.value(field, Json::array())) names.push_back(ref.value("name", ""));
    if (names.empty()) {
      out += header + "\t<none>\n";
      return;
    }
    std::string prefix = header;
    for (auto& n : names) {
      bool found = !fetch("/api/v1/namespaces/" + meta.value("namespace", "") + "/secrets/" + n).is_null();
      out += prefix + "\t" + n + (found ? "" : " (not found)") + "\n";
      prefix = "                   ";
    }
  };
  section("Image pull secrets:", "imagePullSecrets");
  section("Mountable secrets: ", "secrets");
  out += "Tokens:            \t<none>\n";
  out += eventsFor(sa, fetch, now);
  return out;
}

}  // namespace k1s::cli
