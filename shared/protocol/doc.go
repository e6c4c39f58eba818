// Package protocol is the wire contract between the Visitrack tracker and the
// collector: message and event names, frame and event limits, the message
// shapes, and the validation rules both sides apply.
//
// The tracker is compiled to WebAssembly and every visitor downloads it, so
// this package imports only small parts of the standard library: no
// encoding/json, fmt or regexp. JSON payloads are carried as RawJSON, which
// encoding/json (used by the collector) marshals verbatim.
package protocol
