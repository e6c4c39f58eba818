// Package live is the collector's browser-facing side: the WebSocket
// endpoint /v1/ws, its HTTP fallback POST /v1/collect (also what
// sendBeacon and the edge build use), and the push of visitor data to the
// open connections entitled to it.
//
// What reaches a browser from here is built only from protocol types and
// collector.VisitorData; internal visit metadata has no path to it.
package live
