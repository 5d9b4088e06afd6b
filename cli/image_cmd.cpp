// `k1s image import|ls|rm|inspect`: works on <data-dir>/images directly, so it needs no daemon;
// the daemon re-reads refs.json on every lookup and sees imports at once.
#include "cli/image_cmd.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/json.h"
#include "kubelet/images.h"

namespace k1s {
namespace {

const char* kUsage =
    "Manage the local image store (no registry: images come from archives).\n\n"
    "Usage:\n"
    "  k1s image import [--data-dir DIR] FILE...   import docker-save / OCI archives or OCI layout dirs\n"
    "  k1s image ls [--data-dir DIR] [-q]          list images (IMAGE TAG IMAGE ID SIZE)\n"
    "  k1s image rm [--data-dir DIR] REF...        remove tags (an ID removes the image)\n"
    "  k1s image inspect [--data-dir DIR] REF      print an image's details as JSON\n\n"
    "DIR defaults to /var/lib/k1s; images live in DIR/images.\n";

// Go's units.HumanSizeWithPrecision(size, 3), which crictl uses for SIZE: decimal units, %.3g.
std::string humanSize(double size) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t i = 0;
  while (size >= 1000 && i + 1 < sizeof units / sizeof *units) {
    size /= 1000;
    ++i;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.3g%s", size, units[i]);
  return buf;
}

// "docker.io/library/busybox:1.36" -> {"docker.io/library/busybox", "1.36"}
std::pair<std::string, std::string> splitTag(const std::string& ref) {
  if (ref.empty()) return {"<none>", "<none>"};
  std::string name = ref.substr(0, ref.find('@'));
  auto colon = name.rfind(':');
  auto slash = name.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {name, "<none>"};
  return {name.substr(0, colon), name.substr(colon + 1)};
}

// Columns padded like Go's tabwriter with crictl's settings (minwidth 20, padding 3).
void printTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(std::max<size_t>(20, width[i] + 3) - r[i].size(), ' ');
    }
    std::cout << line << "\n";
  }
}

Json infoJson(const ImageInfo& i) {
  return {{"ref", i.ref},
          {"id", i.id},
          {"digest", i.digest},
          {"size", i.size},
          {"layers", i.layers},
          {"config",
           {{"entrypoint", i.config.entrypoint},
            {"cmd", i.config.cmd},
            {"env", i.config.env},
            {"workingDir", i.config.workingDir},
            {"user", i.config.user},
            {"exposedTcpPorts", i.config.exposedTcpPorts}}}};
}

}  // namespace

int runImageCommand(int argc, char** argv) {
  std::string dataDir = "/var/lib/k1s";
  std::vector<std::string> pos;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      dataDir = argv[++i];
    } else if (a.rfind("--data-dir=", 0) == 0) {
      dataDir = a.substr(11);
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      std::cerr << "error: unknown flag: " << a << "\n";
      return 1;
    } else {
      pos.push_back(a);
    }
  }
  if (pos.empty()) {
    std::cerr << kUsage;
    return 1;
  }
  std::string verb = pos[0];
  pos.erase(pos.begin());
  ImageStore store(dataDir + "/images");
  try {
    if (verb == "import" || verb == "load") {
      if (pos.empty()) throw std::runtime_error("image import needs at least one FILE");
      for (auto& file : pos) {
        for (auto& ref : store.importPath(file)) {
          auto info = store.find(ref);
          std::cout << "imported " << ref << (info ? " (" + info->id + ")" : "") << "\n";
        }
      }
      return 0;
    }
    if (verb == "ls" || verb == "list" || verb == "images") {
      std::vector<std::vector<std::string>> rows;
      if (!quiet) rows.push_back({"IMAGE", "TAG", "IMAGE ID", "SIZE"});
      for (auto& img : store.list()) {
        if (quiet) {
          std::cout << img.id << "\n";
          continue;
        }
        auto [name, tag] = splitTag(img.ref);
        rows.push_back({name, tag, img.id.substr(7, 13), humanSize(static_cast<double>(img.size))});
      }
      if (!quiet) printTable(rows);
      return 0;
    }
    if (verb == "rm" || verb == "rmi" || verb == "remove") {
      if (pos.empty()) throw std::runtime_error("image rm needs at least one REF");
      int rc = 0;
      for (auto& ref : pos) {
        if (store.remove(ref)) {
          std::cout << "Deleted: " << ref << "\n";
        } else {
          std::cerr << "error: no such image: " << ref << "\n";
          rc = 1;
        }
      }
      return rc;
    }
    if (verb == "inspect") {
      if (pos.size() != 1) throw std::runtime_error("image inspect needs one REF");
      auto info = store.find(pos[0]);
      if (!info) {
        std::cerr << "error: no such image: " << pos[0] << "\n";
        return 1;
      }
      std::cout << infoJson(*info).dump(2) << "\n";
      return 0;
    }
    std::cerr << "error: unknown command \"" << verb << "\" for \"k1s image\"\n" << kUsage;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace k1s
