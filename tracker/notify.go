//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/shared/protocol"
)

// decodeNotification reads a notification frame; its data, any JSON
// value, travels on as JSON text.
func decodeNotification(v js.Value) protocol.Notification {
	return protocol.Notification{Type: protocol.TypeNotification, ID: str(v, "id"), Channel: str(v, "channel"),
		Data: protocol.RawJSON(stringify(get(v, "data")))}
}
