// Package ingest turns what browsers send into durable rows: it validates
// each event on its own, corrects the browser's clock, runs the identity
// state machine (SignIn, SignOut, UserInfo, recognition tokens), and
// group-commits the writes of many connections in one transaction before
// anyone is acknowledged.
//
// The native collector runs one writer goroutine that batches whatever
// arrived while the previous commit ran (see writer.go). The edge build has
// no long-lived process and no transactions, so there each call writes its
// own statements directly (Config.Direct).
package ingest
