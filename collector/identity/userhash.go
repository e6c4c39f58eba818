package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// UserHash is what a site's backend computes and passes with SignIn:
// hex(HMAC-SHA256(secret, userId)).
func UserHash(secret, userID string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(userID))
	return hex.EncodeToString(h.Sum(nil))
}

// CheckUserHash reports whether hash is UserHash(secret, userID), in
// constant time.
func CheckUserHash(secret, userID, hash string) bool {
	want := UserHash(secret, userID)
	return hmac.Equal([]byte(want), []byte(hash))
}
