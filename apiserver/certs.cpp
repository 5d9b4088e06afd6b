#include "apiserver/certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "common/net.h"

namespace k1s {
namespace {

namespace fs = std::filesystem;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

std::string readFile(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, const std::string& data, mode_t mode) {
  auto tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << data;
  }
  chmod(tmp.c_str(), mode);
  fs::rename(tmp, p);
}

KeyPtr newKey() {
  KeyPtr k(EVP_EC_gen("P-256"));
  if (!k) throw std::runtime_error("EC key generation failed");
  return k;
}

std::string keyPem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* d;
  long n = BIO_get_mem_data(b, &d);
  std::string s(d, n);
  BIO_free(b);
  return s;
}

std::string certPem(X509* c) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char* d;
  long n = BIO_get_mem_data(b, &d);
  std::string s(d, n);
  BIO_free(b);
  return s;
}

KeyPtr loadKey(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), int(pem.size()));
  KeyPtr k(PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  if (!k) throw std::runtime_error("cannot parse CA key");
  return k;
}

CertPtr loadCert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), int(pem.size()));
  CertPtr c(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  if (!c) throw std::runtime_error("cannot parse CA certificate");
  return c;
}

void addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad certificate extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr makeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuerKey, long days, bool ca,
                 const std::string& san) {
  CertPtr c(X509_new());
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), days * 86400L);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : c.get();
  if (ca) {
    addExt(c.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    addExt(c.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    addExt(c.get(), iss, NID_subject_key_identifier, "hash");
  } else {
    addExt(c.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    addExt(c.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    addExt(c.get(), iss, NID_ext_key_usage, "serverAuth");
    addExt(c.get(), iss, NID_subject_alt_name, san);
  }
  if (!X509_sign(c.get(), issuerKey, EVP_sha256())) throw std::runtime_error("certificate signing failed");
  return c;
}

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  out.resize(n);
  return out;
}

}  // namespace

Credentials ensureCredentials(const std::string& dataDir, const std::vector<std::string>& sans,
                              const std::string& serverUrl) {
  fs::path dir = fs::path(dataDir) / "certs";
  fs::create_directories(dir);
  chmod(dir.c_str(), 0700);
  Credentials c;
  KeyPtr caKey;
  CertPtr caCert;
  if (fs::exists(dir / "ca.key") && fs::exists(dir / "ca.crt")) {
    caKey = loadKey(readFile(dir / "ca.key"));
    c.caCertPem = readFile(dir / "ca.crt");
    caCert = loadCert(c.caCertPem);
  } else {
    caKey = newKey();
    caCert = makeCert(caKey.get(), "k1s-ca", nullptr, caKey.get(), 3650, true, "");
    c.caCertPem = certPem(caCert.get());
    writeFile(dir / "ca.key", keyPem(caKey.get()), 0600);
    writeFile(dir / "ca.crt", c.caCertPem, 0644);
  }
  if (fs::exists(dir / "token")) {
    c.token = readFile(dir / "token");
    while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == ' ')) c.token.pop_back();
  }
  if (c.token.empty()) {
    unsigned char raw[24];
    RAND_bytes(raw, sizeof raw);
    static const char* hex = "0123456789abcdef";
    for (unsigned char b : raw) {
      c.token += hex[b >> 4];
      c.token += hex[b & 15];
    }
    writeFile(dir / "token", c.token + "\n", 0600);
  }
  // The serving certificate is cheap (EC) and follows the current addresses.
  std::string san;
  for (auto& s : sans) {
    if (!san.empty()) san += ",";
    san += (parseIPv4(s) ? "IP:" : "DNS:") + s;
  }
  KeyPtr key = newKey();
  CertPtr cert = makeCert(key.get(), "k1s-apiserver", caCert.get(), caKey.get(), 825, false, san);
  c.certFile = (dir / "server.crt").string();
  c.keyFile = (dir / "server.key").string();
  writeFile(c.keyFile, keyPem(key.get()), 0600);
  writeFile(c.certFile, certPem(cert.get()) + c.caCertPem, 0644);

  c.kubeconfigPath = (fs::path(dataDir) / "kubeconfig.yaml").string();
  std::string kc =
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- cluster:\n"
      "    certificate-authority-data: " + base64(c.caCertPem) + "\n"
      "    server: " + serverUrl + "\n"
      "  name: k1s\n"
      "contexts:\n"
      "- context:\n"
      "    cluster: k1s\n"
      "    namespace: default\n"
      "    user: admin\n"
      "  name: k1s\n"
      "current-context: k1s\n"
      "preferences: {}\n"
      "users:\n"
      "- name: admin\n"
      "  user:\n"
      "    token: " + c.token + "\n";
  writeFile(c.kubeconfigPath, kc, 0600);
  return c;
}

}  // namespace k1s
