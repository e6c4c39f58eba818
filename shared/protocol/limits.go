package protocol

// Limits of the wire protocol (docs/protocol.md#limits). An event that breaks a per-event limit is
// rejected alone in the ack; a frame that breaks a frame limit is refused
// whole.
const (
	MaxEventBytes       = 16 << 10 // one event, as JSON
	MaxDepth            = 16       // JSON nesting, objects and arrays
	MaxBatchEvents      = 500      // events in one frame or request
	MaxBatchBytes       = 1 << 20  // one frame or request body
	MaxVisitorDataBytes = 64 << 10 // one visitor-data document
	MaxNamespaces       = 32       // top-level keys of a visitor-data document
	MaxNamespaceLen     = 64
	MaxNameLen          = 128 // an event name
	MaxURLLen           = 4096
	MaxTitleLen         = 1024
)

// MaxNotificationDataBytes bounds the data of one notification, as JSON
// (docs/integrations.md#notifications).
const MaxNotificationDataBytes = 16 << 10
