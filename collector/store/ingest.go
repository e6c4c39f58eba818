package store

// The writes of the ingest path. Each method is one statement (or one
// multi-row statement), so it is atomic on its own on D1; the native
// collector runs many of them in one transaction per batch. They take the
// Querier to run on: the batch's transaction, or the database.
//
// Read top-down, as ingest calls them: visits.go (a visit, its sessions,
// its activity and its end), identities.go (who signed in, and how an
// identity is linked to the visit), events.go (one row per eventId),
// pages.go (one row per pageId) and rollups.go (the counts the stats
// read, added in the events' transaction).

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
