// Package collector is Visitrack's domain: visits, sessions, pages, events,
// identities, visitor data and the errors its services return. It holds
// plain types and the service interfaces; the packages below it carry them
// over SQL (store), WebSocket (live), HTTP (api) and group commit (ingest).
//
// Nothing here imports a subpackage, a SQL driver or a transport.
package collector
