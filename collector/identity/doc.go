// Package identity proves who a browser is: recognition tokens that only
// the collector can issue, and the proofs (userHash, signInToken) a site's
// backend makes so that a browser cannot claim any userId it likes.
//
// A recognition token is "v2.<payload>.<mac>", both parts base64url
// without padding; the payload is identityId, userId, issued-at, expiry
// (Unix seconds), the token's id and "1" or "0" for verified, joined by
// newlines, and the mac is HMAC-SHA256 over "v2." + payload with the
// collector's key. The id lets SignOut revoke one token; verified says
// whether the SignIn that earned it was proven, so that an unproven claim
// stays unverified on later visits too. Tokens live in the _vt_uid cookie,
// so they are kept short and carry nothing that is not already the
// browser's own.
//
// Tokens of the first format ("v1.", no id, no verified flag) still verify,
// but as unverified: they cannot tell whether their SignIn was proven
// (without --identity-secret every SignIn used to count as verified). Their
// id is derived from their mac, so SignOut revokes them too.
package identity
