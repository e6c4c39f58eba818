// Package webhook delivers signed webhooks (docs/integrations.md#webhooks,
// the Standard Webhooks format) from an outbox in the database.
//
// The Outbox writes one delivery row per subscribed webhook in the same
// commit as the change it announces (ingest's transaction for events, the
// visitor-data write's for visitorData.changed), so that an announcement
// exists exactly when its change does. The Worker claims due rows, signs
// and sends them, and settles them: a 2xx ends a delivery; anything else
// schedules the next attempt with the same webhook-id after a growing
// delay, for 24 hours. A claim moves the row's next_at past the attempt's
// timeout, so a crash mid-attempt only delays it, and the Worker makes
// every pending delivery due when it starts.
//
// Targets are guarded against SSRF twice: at registration (Guard.CheckURL
// resolves the host) and at every connection (Guard.Control checks the
// address actually dialled, which catches DNS rebinding), and redirects
// are not followed. Each target has its own lane of at most a few
// attempts in flight, so a slow or dead target delays only itself.
//
// The package runs in the native collector only: the edge build has no
// process that outlives a request to run the Worker.
package webhook
