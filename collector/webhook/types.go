package webhook

import (
	"slices"
	"strings"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// systemTypes are the system events a webhook may subscribe to; page
// views (PageEntered, PageExited) are left to the export and the stream.
var systemTypes = []string{
	protocol.EventSignIn, protocol.EventSignOut, protocol.EventUserInfo,
	protocol.EventVisitStarted, protocol.EventVisitEnded,
}

// engagementTypes are the webhook types of the engagement events
// (docs/engagement.md).
var engagementTypes = map[string]string{
	protocol.EventEngagementOffered:  "engagement.offered",
	protocol.EventEngagementAccepted: "engagement.accepted",
	protocol.EventEngagementDeclined: "engagement.declined",
	protocol.EventEngagementTimedOut: "engagement.timed_out",
}

func isEngagementType(t string) bool {
	for _, v := range engagementTypes {
		if v == t {
			return true
		}
	}
	return false
}

// maxTypes bounds the event types of one webhook.
const maxTypes = 64

// CheckTypes validates a webhook's event types and returns them without
// duplicates, in the order given. EINVALID names the first bad one.
func CheckTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, collector.Errorf(collector.EINVALID, "events: give at least one event type")
	}
	if len(types) > maxTypes {
		return nil, collector.Errorf(collector.EINVALID, "events: at most %d event types", maxTypes)
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		if err := checkType(t); err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func checkType(t string) error {
	if slices.Contains(systemTypes, t) || t == collector.WebhookVisitorDataChanged || isEngagementType(t) {
		return nil
	}
	name, ok := strings.CutPrefix(t, collector.WebhookBusinessPrefix)
	if !ok {
		return collector.Errorf(collector.EINVALID,
			"events: unknown event type %q: use %s, %s, engagement.offered, engagement.accepted, engagement.declined, engagement.timed_out, business:<Name> or business:*",
			clip(t), strings.Join(systemTypes, ", "), collector.WebhookVisitorDataChanged)
	}
	switch {
	case name == "*":
		return nil
	case name == "" || len(name) > protocol.MaxNameLen:
		return collector.Errorf(collector.EINVALID, "events: %q needs an event name of 1 to %d bytes after business:", clip(t), protocol.MaxNameLen)
	case protocol.IsSystemEvent(name):
		return collector.Errorf(collector.EINVALID, "events: %s is a system event: subscribe to %q itself", name, name)
	}
	return nil
}

// typeOf returns the webhook type that announces an event named name, or
// "" for events no webhook receives.
func typeOf(name string) string {
	if slices.Contains(systemTypes, name) {
		return name
	}
	if t, ok := engagementTypes[name]; ok {
		return t
	}
	if protocol.IsSystemEvent(name) {
		return ""
	}
	return collector.WebhookBusinessPrefix + name
}

// subscription is one webhook as the outbox matches it.
type subscription struct {
	id          string
	types       map[string]bool
	allBusiness bool
}

func newSubscription(w *collector.Webhook) subscription {
	s := subscription{id: w.ID, types: map[string]bool{}}
	for _, t := range w.Events {
		if t == collector.WebhookBusinessPrefix+"*" {
			s.allBusiness = true
		}
		s.types[t] = true
	}
	return s
}

// wants reports whether the webhook receives type t.
func (s subscription) wants(t string) bool {
	return s.types[t] || s.allBusiness && strings.HasPrefix(t, collector.WebhookBusinessPrefix)
}
