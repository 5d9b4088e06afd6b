// The WebSocket transport for pods/exec, pods/attach and pods/portforward
// (kubelet/stream_websocket.cpp). Call once at start-up, before serving:
// installs it as the handler for `Upgrade: websocket` stream requests.
#pragma once

namespace k1s {

void installWebSocketStreams();

}  // namespace k1s
