package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/problem"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Notifications (docs/integrations.md#notifications): a backend sends a message to the open
// pages of one visit, as Genesys's Notification API does. Nothing is
// stored; the answer says how many open pages it reached.

// maxNotificationBody bounds the request body: the data (16 KiB) with room
// for the channel, the envelope and escapes.
const maxNotificationBody = 64 << 10

func (h *Handler) notificationRoutes() {
	h.Handle("POST /v1/visits/{visitId}/notifications", collector.ScopeNotifyWrite, h.postNotification)
}

// POST /v1/visits/{visitId}/notifications {"channel","data"} → 202
// {"delivered":n}. An unknown visit is 404. An ended visit is 409: its
// pages, if any are still open, belong to the visitor's next visit, so a
// notification meant for this one would reach the wrong conversation.
func (h *Handler) postNotification(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "visitId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	if h.cfg.Notifier == nil {
		problem.Write(w, http.StatusNotImplemented, "notifications_unavailable",
			"notifications need WebSockets to open pages, which this build (the edge) does not have")
		return nil
	}
	body, err := readBody(w, r, maxNotificationBody, "application/json")
	if err != nil {
		return err
	}
	n, err := decodeNotification(body)
	if err != nil {
		return err
	}
	v, err := h.cfg.History.FindVisit(r.Context(), id)
	if err != nil {
		return err
	}
	if v.EndedAt != nil {
		return collector.Errorf(collector.ECONFLICT, "visit %s ended at %s; notify the visitor's current visit "+
			"(GET /v1/visits?visitorId=%s&limit=1)", id, v.EndedAt.Format(time.RFC3339), v.VisitorID)
	}
	n.ID, n.VisitID = h.newID(), id
	delivered, err := h.cfg.Notifier.Notify(r.Context(), n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, struct {
		ID        string `json:"id"`
		Delivered int    `json:"delivered"`
	}{n.ID, delivered})
}

// decodeNotification reads {"channel","data"}: channel named like a
// namespace, data any JSON value of at most 16 KiB (absent means null),
// nothing else.
func decodeNotification(body []byte) (*collector.Notification, error) {
	var in struct {
		Channel *string         `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, collector.Errorf(collector.EINVALID, `send {"channel":"…","data":…}: %v`, err)
	}
	if dec.More() {
		return nil, collector.Errorf(collector.EINVALID, "the body must be one JSON object")
	}
	if in.Channel == nil {
		return nil, collector.Errorf(collector.EINVALID, "channel is required")
	}
	if !protocol.ValidNamespace(*in.Channel) {
		return nil, collector.Errorf(collector.EINVALID, "channel must match ^[a-z][a-z0-9_]{0,63}$")
	}
	if len(in.Data) == 0 {
		in.Data = json.RawMessage("null")
	}
	if len(in.Data) > protocol.MaxNotificationDataBytes {
		return nil, collector.Errorf(collector.ETOOLARGE, "data is %d bytes of JSON, more than the %d a notification may carry",
			len(in.Data), protocol.MaxNotificationDataBytes)
	}
	if protocol.Depth(in.Data, protocol.MaxDepth) > protocol.MaxDepth {
		return nil, collector.Errorf(collector.EINVALID, "data nests deeper than %d levels", protocol.MaxDepth)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, in.Data); err != nil {
		return nil, collector.Errorf(collector.EINVALID, "data is not valid JSON: %v", err)
	}
	return &collector.Notification{Channel: *in.Channel, Data: compact.Bytes()}, nil
}

// newID returns a new ULID from Config.NewID, or the clock and crypto
// randomness.
func (h *Handler) newID() string {
	if h.cfg.NewID != nil {
		return h.cfg.NewID()
	}
	return ulid.Make().String()
}
