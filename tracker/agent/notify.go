package agent

import "github.com/visitrack/visitrack/shared/protocol"

// OpNotifications (command.go) subscribes Command.Listener to the
// collector's notifications: _gt.push(['subscribe', 'notification',
// callback]) and visitrack.onNotification(callback) (docs/integrations.md#notifications).

// NotificationListener hears of every notification a backend sends to
// this page's visit. Notifications are not stored: only pages open with a
// WebSocket when one is sent hear of it.
type NotificationListener interface {
	Notification(n *protocol.Notification)
}

// notifications is the agent's list of listeners.
type notifications []NotificationListener

func (ns *notifications) add(l NotificationListener) {
	if l != nil {
		*ns = append(*ns, l)
	}
}

// deliver hands a notification frame to every listener, in the order
// they subscribed. A frame without an id or a channel is not one the
// collector sends, and is dropped.
func (ns notifications) deliver(n *protocol.Notification) {
	if n.ID == "" || n.Channel == "" {
		return
	}
	if len(n.Data) == 0 {
		n.Data = protocol.RawJSON("null")
	}
	for _, l := range ns {
		l.Notification(n)
	}
}
