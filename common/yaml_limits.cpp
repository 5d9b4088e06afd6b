#include "common/yaml_limits.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <limits>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "common/json_limits.h"

namespace k1s {

namespace {

// go-yaml v2/v3 decode.go: the share of decoded nodes that may come from alias
// expansion shrinks from 99% at 400,000 nodes to 10% at 4,000,000.
double allowedAliasRatio(double decodeCount) {
  constexpr double low = 400000, high = 4000000;
  if (decodeCount <= low) return 0.99;
  if (decodeCount >= high) return 0.10;
  return 0.99 - 0.89 * ((decodeCount - low) / (high - low));
}

constexpr size_t kMaxDepth = 10000;

uint64_t addSat(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

[[noreturn]] void refuse(const YAML::Mark& m, const std::string& msg) {
  if (m.is_null()) throw std::runtime_error("yaml: " + msg);
  throw std::runtime_error("yaml: line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) +
                           ": " + msg);
}

// Counts nodes as go-yaml's decoder visits them: each node once, and an alias
// as itself plus every node of its anchor's (expanded) subtree.
class Guard : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (started_ && mark.pos == lastStart_) refuse(mark, "did not find expected node content");
    started_ = true;
    lastStart_ = mark.pos;
    sizes_.clear();
    open_.clear();
    decodeCount_ = aliasCount_ = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    leaf(anchor);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    auto it = sizes_.find(anchor);
    uint64_t expanded = it == sizes_.end() ? 0 : it->second;
    decodeCount_ = addSat(decodeCount_, addSat(1, expanded));
    aliasCount_ = addSat(aliasCount_, expanded);
    check();
    close(addSat(1, expanded), 0);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnSequenceEnd() override { end(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnMapEnd() override { end(); }

 private:
  struct Open {
    YAML::anchor_t anchor;
    uint64_t nodes;  // this collection and everything in it so far, aliases expanded
  };

  void leaf(YAML::anchor_t anchor) {
    decodeCount_ = addSat(decodeCount_, 1);
    check();
    close(1, anchor);
  }
  void open(YAML::anchor_t anchor) {
    if (open_.size() >= kMaxDepth) refuse(YAML::Mark::null_mark(), "exceeded max depth of " + std::to_string(kMaxDepth));
    decodeCount_ = addSat(decodeCount_, 1);
    check();
    open_.push_back({anchor, 1});
  }
  void end() {
    if (open_.empty()) return;
    Open o = open_.back();
    open_.pop_back();
    close(o.nodes, o.anchor);
  }
  // A finished node of `nodes` nodes: remember it under its anchor, add it to its parent.
  void close(uint64_t nodes, YAML::anchor_t anchor) {
    if (anchor) sizes_[anchor] = nodes;
    if (!open_.empty()) open_.back().nodes = addSat(open_.back().nodes, nodes);
  }
  // go-yaml's test, made after each node or whole alias: the share only grows within an
  // alias and the allowance only shrinks, so testing at its end finds what go-yaml finds.
  void check() const {
    if (aliasCount_ > 100 && decodeCount_ > 1000 &&
        double(aliasCount_) / double(decodeCount_) > allowedAliasRatio(double(decodeCount_)))
      refuse(YAML::Mark::null_mark(), "document contains excessive aliasing");  // go-yaml's failf: no position
  }

  bool started_ = false;
  int lastStart_ = -1;
  std::unordered_map<YAML::anchor_t, uint64_t> sizes_;
  std::vector<Open> open_;
  uint64_t decodeCount_ = 0, aliasCount_ = 0;
};

}  // namespace

void checkYamlLimits(const std::string& text) {
  // go-yaml's reader refuses bytes that are not UTF-8; yaml-cpp would keep them in
  // strings that no JSON writer can put out.
  if (coerceUtf8(text) != text) refuse(YAML::Mark::null_mark(), "invalid leading UTF-8 octet");
  std::istringstream in(text);
  YAML::Parser parser(in);
  Guard guard;
  try {
    while (parser.HandleNextDocument(guard)) {
    }
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own recursion guard stops first (its message reads "bad file").
    refuse(YAML::Mark::null_mark(), "exceeded max depth of " + std::to_string(e.depth()));
  } catch (const YAML::Exception& e) {
    refuse(e.mark, e.msg);
  }
}

}  // namespace k1s
