// The image store against archives built here with libarchive: docker save and OCI forms,
// plain and gzip layers, whiteouts as overlayfs sees them, digest checks, hostile paths, removal.
#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <openssl/sha.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "common/json.h"
#include "kubelet/images.h"

using namespace k1s;
namespace fs = std::filesystem;

namespace {

struct TarEntry {
  std::string path;
  char type = 'f';  // f file, d dir, l symlink, h hardlink, c char device
  std::string data;  // file content, or link target
  int mode = 0644;
  std::string xattr = "";  // one trusted.* name, value "v"
};

std::string sha256(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  char hex[65];
  for (int i = 0; i < 32; ++i) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return std::string("sha256:") + hex;
}

std::string hexOf(const std::string& digest) { return digest.substr(7); }

// A tar (pax) in memory, gzip-compressed when asked.
std::string makeTar(const std::vector<TarEntry>& entries, bool gzip = false) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  std::vector<char> buf(16 << 20);
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, buf.data(), buf.size(), &used) == ARCHIVE_OK);
  for (auto& e : entries) {
    archive_entry* ent = archive_entry_new();
    archive_entry_set_pathname(ent, e.path.c_str());
    archive_entry_set_perm(ent, e.mode);
    archive_entry_set_uid(ent, 0);
    archive_entry_set_gid(ent, 0);
    switch (e.type) {
      case 'd': archive_entry_set_filetype(ent, AE_IFDIR); break;
      case 'l':
        archive_entry_set_filetype(ent, AE_IFLNK);
        archive_entry_set_symlink(ent, e.data.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(ent, AE_IFREG);
        archive_entry_set_hardlink(ent, e.data.c_str());
        break;
      case 'c':
        archive_entry_set_filetype(ent, AE_IFCHR);
        archive_entry_set_rdev(ent, makedev(1, 3));
        break;
      default:
        archive_entry_set_filetype(ent, AE_IFREG);
        archive_entry_set_size(ent, e.data.size());
    }
    if (!e.xattr.empty()) archive_entry_xattr_add_entry(ent, e.xattr.c_str(), "v", 1);
    REQUIRE(archive_write_header(a, ent) == ARCHIVE_OK);
    if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ent);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

void writeFile(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/k1s-images-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Json imageConfig(const std::vector<std::string>& layerTars) {
  Json diffIds = Json::array();
  for (auto& t : layerTars) diffIds.push_back(sha256(t));
  return {{"architecture", "amd64"},
          {"os", "linux"},
          {"config",
           {{"Entrypoint", {"/bin/app"}},
            {"Cmd", {"--port", "80"}},
            {"Env", {"PATH=/bin", "MODE=test"}},
            {"WorkingDir", "/srv"},
            {"User", "1000:1000"},
            {"ExposedPorts", {{"80/tcp", Json::object()}, {"53/udp", Json::object()}, {"8080", Json::object()}}}}},
          {"rootfs", {{"type", "layers"}, {"diff_ids", diffIds}}}};
}

// `docker save` layout: manifest.json, <config hex>.json, <n>/layer.tar (uncompressed).
std::string dockerSave(const std::string& dir, const std::vector<std::string>& layers, const std::vector<std::string>& tags,
                       Json config = nullptr) {
  if (config.is_null()) config = imageConfig(layers);
  std::string cfg = config.dump();
  std::vector<TarEntry> outer;
  Json layerPaths = Json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string p = "layer" + std::to_string(i) + "/layer.tar";
    outer.push_back({p, 'f', layers[i]});
    layerPaths.push_back(p);
  }
  std::string cfgName = hexOf(sha256(cfg)) + ".json";
  outer.push_back({cfgName, 'f', cfg});
  Json manifest = Json::array({{{"Config", cfgName}, {"RepoTags", tags}, {"Layers", layerPaths}}});
  outer.push_back({"manifest.json", 'f', manifest.dump()});
  std::string path = dir + "/docker-save.tar";
  writeFile(path, makeTar(outer));
  return path;
}

// An OCI image layout in dir: blobs, a manifest per platform, an index (multi-arch when asked).
struct OciLayout {
  std::string dir;
  std::string manifestDigest;
  void blob(const std::string& data) { writeFile(dir + "/blobs/sha256/" + hexOf(sha256(data)), data); }
  Json manifestFor(const std::vector<std::string>& gzLayers, const std::vector<std::string>& plainLayers) {
    std::string cfg = imageConfig(plainLayers).dump();
    blob(cfg);
    Json ls = Json::array();
    for (auto& l : gzLayers) {
      blob(l);
      ls.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", sha256(l)}, {"size", l.size()}});
    }
    return {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", sha256(cfg)}, {"size", cfg.size()}}},
            {"layers", ls}};
  }
  void build(const std::vector<std::string>& plainLayers, const std::string& refName, bool multiArch) {
    std::vector<std::string> gz;
    for (auto& l : plainLayers) gz.push_back(gzipOf(l));
    std::string m = manifestFor(gz, plainLayers).dump();
    blob(m);
    manifestDigest = sha256(m);
    Json desc = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", manifestDigest}, {"size", m.size()}};
    if (multiArch) {
      // An arm64 sibling whose layer is not even present: picking it would fail the import.
      std::string other = Json{{"schemaVersion", 2}, {"config", {{"digest", sha256("nope")}}}, {"layers", Json::array()}}.dump();
      blob(other);
      Json idx = {{"schemaVersion", 2},
                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                  {"manifests",
                   {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", sha256(other)}, {"size", other.size()},
                     {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}},
                    {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", manifestDigest}, {"size", m.size()},
                     {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
      std::string is = idx.dump();
      blob(is);
      desc = {{"mediaType", "application/vnd.oci.image.index.v1+json"}, {"digest", sha256(is)}, {"size", is.size()}};
    }
    desc["annotations"] = {{"org.opencontainers.image.ref.name", refName}};
    writeFile(dir + "/index.json", Json{{"schemaVersion", 2}, {"manifests", {desc}}}.dump());
    writeFile(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }
  // A gzip stream of exactly these bytes (libarchive's raw writer).
  static std::string gzipOf(const std::string& data) {
    archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    std::vector<char> buf(16 << 20);
    size_t used = 0;
    archive_write_open_memory(a, buf.data(), buf.size(), &used);
    archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, data.size());
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return std::string(buf.data(), used);
  }
  // The layout packed as an OCI archive (tar of the directory).
  std::string pack(const std::string& out) {
    std::vector<TarEntry> entries;
    for (auto& p : fs::recursive_directory_iterator(dir))
      if (p.is_regular_file()) {
        std::ifstream in(p.path(), std::ios::binary);
        entries.push_back({fs::relative(p.path(), dir).string(), 'f', std::string(std::istreambuf_iterator<char>(in), {})});
      }
    writeFile(out, makeTar(entries));
    return out;
  }
};

const std::vector<TarEntry> kBase = {
    {"bin/", 'd', "", 0755},
    {"bin/app", 'f', "#!app\n", 0755},
    {"etc/", 'd', "", 0755},
    {"etc/a", 'f', "A"},
    {"etc/b", 'f', "B", 0600},
    {"etc/b-link", 'h', "etc/b"},
    {"etc/abs", 'l', "/etc/a"},
    {"d/", 'd', "", 0755},
    {"d/x", 'f', "X"},
    {"dev/null", 'c', ""},
};
const std::vector<TarEntry> kTop = {
    {"etc/.wh.a", 'f', ""},
    {"d/.wh..wh..opq", 'f', ""},
    {"d/y", 'f', "Y"},
};

bool isWhiteout(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

}  // namespace

TEST_CASE("normalizeImageRef follows docker's reference rules") {
  CHECK(normalizeImageRef("busybox") == "docker.io/library/busybox:latest");
  CHECK(normalizeImageRef("kiamol/ch03-numbers-api") == "docker.io/kiamol/ch03-numbers-api:latest");
  CHECK(normalizeImageRef("kiamol/ch03-numbers-web:v2") == "docker.io/kiamol/ch03-numbers-web:v2");
  CHECK(normalizeImageRef("docker.io/library/nginx:1.25") == "docker.io/library/nginx:1.25");
  CHECK(normalizeImageRef("index.docker.io/nginx") == "docker.io/library/nginx:latest");
  CHECK(normalizeImageRef("localhost:5000/x:1") == "localhost:5000/x:1");
  CHECK(normalizeImageRef("localhost/x") == "localhost/x:latest");
  CHECK(normalizeImageRef("quay.io/a/b/c") == "quay.io/a/b/c:latest");
  std::string d = "sha256:" + std::string(64, 'a');
  CHECK(normalizeImageRef("busybox@" + d) == "docker.io/library/busybox@" + d);
  CHECK(normalizeImageRef("busybox:1.36@" + d) == "docker.io/library/busybox:1.36@" + d);
  CHECK(normalizeImageRef(d) == d);
  CHECK_THROWS_WITH(normalizeImageRef("kiamol/Numbers"), doctest::Contains("must be lowercase"));
  CHECK_THROWS(normalizeImageRef("a b"));
  CHECK_THROWS(normalizeImageRef("busybox:bad/tag!"));
}

TEST_CASE("docker save import: layers, whiteouts as overlayfs whiteouts, config") {
  TempDir t;
  std::string base = makeTar(kBase), top = makeTar(kTop);
  std::string archive = dockerSave(t.path, {base, top}, {"example/app:1", "example/app:latest"});
  ImageStore store(t.path + "/images");
  auto refs = store.importPath(archive);
  CHECK(refs == std::vector<std::string>{"docker.io/example/app:1", "docker.io/example/app:latest"});

  auto img = store.find("example/app:1");
  REQUIRE(img);
  CHECK(img->ref == "docker.io/example/app:1");
  CHECK(img->config.entrypoint == std::vector<std::string>{"/bin/app"});
  CHECK(img->config.cmd == std::vector<std::string>{"--port", "80"});
  CHECK(img->config.env == std::vector<std::string>{"PATH=/bin", "MODE=test"});
  CHECK(img->config.workingDir == "/srv");
  CHECK(img->config.user == "1000:1000");
  CHECK(img->config.exposedTcpPorts == std::vector<int>{80, 8080});
  CHECK(img->id == sha256(imageConfig({base, top}).dump()));
  CHECK(img->size == int64_t(base.size() + top.size()));
  REQUIRE(img->layers.size() == 2);
  CHECK(img->layers[0] == t.path + "/images/layers/" + hexOf(sha256(base)) + "/rootfs");

  const std::string& l0 = img->layers[0];
  const std::string& l1 = img->layers[1];
  struct stat st {};
  REQUIRE(stat((l0 + "/bin/app").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  REQUIRE(stat((l0 + "/etc/b").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_nlink == 2);  // etc/b-link is a hard link to it
  CHECK(fs::read_symlink(l0 + "/etc/abs") == "/etc/a");
  CHECK_FALSE(fs::exists(fs::symlink_status(l0 + "/dev/null")));  // device nodes are not created
  CHECK(isWhiteout(l1 + "/etc/a"));
  char val[8] = {};
  CHECK(getxattr((l1 + "/d").c_str(), "trusted.overlay.opaque", val, sizeof val) == 1);
  CHECK(std::string(val) == "y");
  CHECK(fs::exists(l1 + "/d/y"));

  // What a container sees: overlayfs over the layers (top first).
  TempDir m;
  fs::create_directories(m.path + "/merged");
  std::string opts = "lowerdir=" + l1 + ":" + l0;
  REQUIRE_MESSAGE(mount("overlay", (m.path + "/merged").c_str(), "overlay", 0, opts.c_str()) == 0, strerror(errno));
  CHECK_FALSE(fs::exists(m.path + "/merged/etc/a"));  // whited out
  CHECK(fs::exists(m.path + "/merged/etc/b"));
  CHECK_FALSE(fs::exists(m.path + "/merged/d/x"));  // hidden by the opaque directory
  CHECK(fs::exists(m.path + "/merged/d/y"));
  CHECK(fs::exists(m.path + "/merged/bin/app"));
  umount2((m.path + "/merged").c_str(), MNT_DETACH);

  // Listing: one row per tag, same image.
  auto all = store.list();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == all[1].id);
  // By ID and by ID prefix.
  REQUIRE(store.find(img->id));
  CHECK(store.find(img->id.substr(7, 12))->digest == img->digest);
}

TEST_CASE("a directory deleted and re-created in one layer hides the lower one; overlay xattrs are dropped") {
  TempDir t;
  std::string base = makeTar(kBase);
  std::string top = makeTar({{".wh.d", 'f', ""}, {"d/z", 'f', "Z", 0644, "trusted.overlay.redirect"},
                             {"keep", 'f', "K", 0644, "trusted.k1s-test"}});
  ImageStore store(t.path + "/images");
  store.importPath(dockerSave(t.path, {base, top}, {"example/redo:1"}));
  auto img = store.find("example/redo:1");
  REQUIRE(img);
  std::string d = img->layers[1] + "/d";
  REQUIRE(fs::is_directory(fs::symlink_status(d)));
  char val[8] = {};
  CHECK(getxattr(d.c_str(), "trusted.overlay.opaque", val, sizeof val) == 1);
  CHECK(fs::exists(d + "/z"));
  CHECK(getxattr((d + "/z").c_str(), "trusted.overlay.redirect", val, sizeof val) < 0);
  CHECK(getxattr((img->layers[1] + "/keep").c_str(), "trusted.k1s-test", val, sizeof val) == 1);
}

TEST_CASE("OCI archive with gzip layers and a multi-arch index imports linux/amd64") {
  TempDir t;
  std::string base = makeTar(kBase), top = makeTar(kTop);
  OciLayout oci{t.path + "/layout", ""};
  oci.build({base, top}, "registry.local:5000/team/app:2", true);
  std::string archive = oci.pack(t.path + "/oci.tar");
  ImageStore store(t.path + "/images");
  CHECK(store.importPath(archive) == std::vector<std::string>{"registry.local:5000/team/app:2"});
  auto img = store.find("registry.local:5000/team/app:2");
  REQUIRE(img);
  CHECK(img->digest == oci.manifestDigest);
  REQUIRE(img->layers.size() == 2);
  // Layers are keyed by the uncompressed digest, whatever the compression.
  CHECK(img->layers[1] == t.path + "/images/layers/" + hexOf(sha256(top)) + "/rootfs");
  CHECK(isWhiteout(img->layers[1] + "/etc/a"));
  CHECK(fs::exists(img->layers[0] + "/bin/app"));
  CHECK((!fs::exists(t.path + "/images/tmp") || fs::is_empty(t.path + "/images/tmp")));  // staging is gone
}

TEST_CASE("OCI layout directory import, and layers shared between images") {
  TempDir t;
  std::string base = makeTar(kBase);
  OciLayout oci{t.path + "/layout", ""};
  oci.build({base}, "example/dir:1", false);
  ImageStore store(t.path + "/images");
  CHECK(store.importPath(oci.dir) == std::vector<std::string>{"docker.io/example/dir:1"});
  // A docker-save image with the same base layer plus one more.
  std::string extra = makeTar({{"extra", 'f', "E"}});
  store.importPath(dockerSave(t.path, {base, extra}, {"example/two:1"}));
  std::string baseDir = t.path + "/images/layers/" + hexOf(sha256(base));
  CHECK(store.find("example/two:1")->layers[0] == baseDir + "/rootfs");

  CHECK(store.remove("example/dir:1"));
  CHECK_FALSE(store.find("example/dir:1"));
  CHECK(fs::exists(baseDir));  // still used by example/two
  CHECK_FALSE(fs::exists(t.path + "/images/blobs/sha256/" + hexOf(oci.manifestDigest)));
  CHECK(store.remove("docker.io/example/two:1"));
  CHECK_FALSE(fs::exists(baseDir));
  CHECK(fs::is_empty(t.path + "/images/layers"));
  CHECK_FALSE(store.remove("example/two:1"));
}

TEST_CASE("a digest mismatch rejects the archive and leaves nothing visible") {
  TempDir t;
  ImageStore store(t.path + "/images");
  SUBCASE("OCI layer blob whose content does not match its name") {
    std::string base = makeTar(kBase);
    OciLayout oci{t.path + "/layout", ""};
    oci.build({base}, "example/bad:1", false);
    Json m = Json::parse(std::ifstream(oci.dir + "/blobs/sha256/" + hexOf(oci.manifestDigest)));
    std::string layerFile = oci.dir + "/blobs/sha256/" + hexOf(m["layers"][0]["digest"]);
    writeFile(layerFile, OciLayout::gzipOf(makeTar({{"evil", 'f', "tampered"}})));
    CHECK_THROWS_WITH(store.importPath(oci.pack(t.path + "/bad.tar")), doctest::Contains("digest mismatch"));
  }
  SUBCASE("docker save layer that is not what the config's diff_ids say") {
    std::string base = makeTar(kBase);
    Json cfg = imageConfig({makeTar({{"other", 'f', "O"}})});
    CHECK_THROWS_WITH(store.importPath(dockerSave(t.path, {base}, {"example/bad:1"}, cfg)), doctest::Contains("digest mismatch"));
  }
  CHECK(store.list().empty());
  CHECK_FALSE(store.find("example/bad:1"));
  CHECK((!fs::exists(t.path + "/images/layers") || fs::is_empty(t.path + "/images/layers")));
  CHECK((!fs::exists(t.path + "/images/blobs/sha256") || fs::is_empty(t.path + "/images/blobs/sha256")));
}

TEST_CASE("layer paths escaping the layer directory are refused") {
  TempDir t;
  std::string outside = t.path + "/outside";
  fs::create_directories(outside);
  ImageStore store(t.path + "/images");
  SUBCASE("../ in a name") {
    std::string layer = makeTar({{"ok", 'f', "1"}, {"../../../../outside/pwned", 'f', "x"}});
    CHECK_THROWS_WITH(store.importPath(dockerSave(t.path, {layer}, {"example/evil:1"})), doctest::Contains("escapes"));
  }
  SUBCASE("writing through an absolute symlink") {
    std::string layer = makeTar({{"esc", 'l', outside}, {"esc/pwned", 'f', "x"}});
    CHECK_THROWS_WITH(store.importPath(dockerSave(t.path, {layer}, {"example/evil:1"})), doctest::Contains("symlink"));
  }
  SUBCASE("a hard link to a file through a symlink") {
    writeFile(outside + "/secret", "s");
    std::string layer = makeTar({{"esc", 'l', outside}, {"grab", 'h', "esc/secret"}});
    CHECK_THROWS_WITH(store.importPath(dockerSave(t.path, {layer}, {"example/evil:1"})), doctest::Contains("symlink"));
  }
  CHECK_FALSE(fs::exists(outside + "/pwned"));
  CHECK(store.list().empty());
  CHECK((!fs::exists(t.path + "/images/layers") || fs::is_empty(t.path + "/images/layers")));
}

TEST_CASE("retagging leaves the old image untagged; the drop dir is imported once") {
  TempDir t;
  ImageStore store(t.path + "/images");
  fs::create_directories(t.path + "/a");
  fs::create_directories(t.path + "/b");
  store.importPath(dockerSave(t.path + "/a", {makeTar({{"v", 'f', "1"}})}, {"example/app:v"}));
  std::string oldId = store.find("example/app:v")->id;
  fs::create_directories(t.path + "/images/import");
  fs::rename(dockerSave(t.path + "/b", {makeTar({{"v", 'f', "2"}})}, {"example/app:v"}), t.path + "/images/import/app.tar");
  store.importDropDir();
  CHECK(fs::exists(t.path + "/images/import/app.tar.imported"));
  CHECK(store.find("example/app:v")->id != oldId);
  auto old = store.find(oldId);
  REQUIRE(old);
  CHECK(old->ref == "");  // <none>
  CHECK(store.list().size() == 2);
  CHECK(store.remove(oldId));
  CHECK(store.list().size() == 1);
  CHECK_THROWS_WITH(store.importPath(t.path + "/missing.tar"), doctest::Contains("missing.tar"));
  writeFile(t.path + "/junk.tar", "definitely not a tar");
  CHECK_THROWS(store.importPath(t.path + "/junk.tar"));
  CHECK(store.list().size() == 1);
}
