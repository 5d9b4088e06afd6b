// Bounds on YAML input, checked before yaml-cpp builds any node graph.
#pragma once
#include <string>

namespace k1s {

// Walks the whole stream with yaml-cpp's event parser, which holds no tree, and
// throws std::runtime_error("yaml: ...") when the input is one kube refuses or
// yaml-cpp 0.7 cannot parse in bounded memory:
//  - a document that consumes nothing (",a" at the top level): yaml-cpp's
//    LoadAll asks for the next document again at the same token forever,
//    appending a null each time, until memory runs out;
//  - alias expansion beyond go-yaml's ratio (CVE-2019-11253, "billion laughs"):
//    "document contains excessive aliasing", counted per document as go-yaml's
//    decoder counts it, so a manifest kube accepts is accepted here;
//  - nesting deeper than go-yaml's 10,000 ("exceeded max depth of 10000").
// The node graph yaml-cpp builds afterwards shares aliased nodes, so only the
// conversion to JSON expands them, and that expansion is what is bounded here.
void checkYamlLimits(const std::string& text);

}  // namespace k1s
