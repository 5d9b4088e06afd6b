// On-disk layout of the image store, shared by kubelet/images.cpp (lookups, removal) and
// kubelet/images_import.cpp. Layout under the store root:
//   blobs/sha256/<hex>          manifests and configs, content-addressed
//   layers/<diffid-hex>/rootfs  extracted layers, shared between images (overlay lowerdirs)
//   refs.json                   {"refs": {"<normalized ref>": "sha256:<manifest digest>"}}; an image
//                               left without tags stays under the key "sha256:<manifest digest>"
//   import/                     drop dir imported at daemon start
//   tmp/, .lock                 staging of archives being imported; the writers' lock
#pragma once
#include <map>
#include <optional>
#include <string>

#include "common/json.h"
#include "kubelet/images.h"

namespace k1s::images {

using RefMap = std::map<std::string, std::string>;  // ref (or untagged digest) -> manifest digest

std::string blobPath(const std::string& root, const std::string& digest);
std::string layerRootfs(const std::string& root, const std::string& diffHex);
RefMap loadRefs(const std::string& root);
void saveRefs(const std::string& root, const RefMap& refs);
bool isUntaggedKey(const std::string& key);

ImageConfig parseImageConfig(const Json& config);
// Builds the ImageInfo of a stored manifest; nullopt when its blobs are missing or unreadable.
std::optional<ImageInfo> loadImage(const std::string& root, const std::string& ref, const std::string& manifestDigest);

// Deletes blobs and layer directories no ref reaches (and leftovers of interrupted imports).
// Call with the store lock held.
void collectGarbage(const std::string& root);

}  // namespace k1s::images
