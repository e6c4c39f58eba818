// Package identity proves who a browser is: recognition tokens that only
// the collector can issue, and the userHash a site's backend computes so
// that a browser cannot claim any userId it likes.
//
// A recognition token is "v1.<payload>.<mac>", both parts base64url
// without padding; the payload is identityId, userId, issued-at and expiry
// (Unix seconds) joined by newlines, and the mac is HMAC-SHA256 over
// "v1." + payload with the collector's key. Tokens live in the _vt_uid
// cookie, so they are kept short and carry nothing that is not already the
// browser's own.
package identity
