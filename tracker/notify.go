//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
)

// notificationListener calls callback({id, channel, data}) for each
// notification, from a fresh task as every site callback is called.
type notificationListener struct{ fn js.Value }

func (l notificationListener) Notification(n *protocol.Notification) {
	o := js.Global().Get("Object").New()
	o.Set("id", n.ID)
	o.Set("channel", n.Channel)
	o.Set("data", parse(string(n.Data)))
	later(l.fn, o)
}

// subscribeCommand reads ['subscribe', 'notification', callback].
func subscribeCommand(topic, fn js.Value) (agent.Command, bool) {
	if jsString(topic) != "notification" || fn.Type() != js.TypeFunction {
		return agent.Command{}, false
	}
	return agent.Command{Op: agent.OpNotifications, Listener: notificationListener{fn}}, true
}

// decodeNotification reads a notification frame; its data, any JSON
// value, travels on as JSON text.
func decodeNotification(v js.Value) protocol.Notification {
	return protocol.Notification{Type: protocol.TypeNotification, ID: str(v, "id"), Channel: str(v, "channel"),
		Data: protocol.RawJSON(stringify(get(v, "data")))}
}
