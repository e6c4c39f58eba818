package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// UserHash is what a site's backend computes and passes with SignIn:
// hex(HMAC-SHA256(secret, userId)), in lower case.
func UserHash(secret, userID string) string {
	return hex.EncodeToString(userMAC(secret, userID))
}

// CheckUserHash reports whether hash is UserHash(secret, userID) in hex of
// either case (.NET's Convert.ToHexString writes upper case), comparing
// the bytes in constant time.
func CheckUserHash(secret, userID, hash string) bool {
	got, err := hex.DecodeString(hash)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(userMAC(secret, userID), got)
}

func userMAC(secret, userID string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(userID))
	return h.Sum(nil)
}
