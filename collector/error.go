package collector

import (
	"errors"
	"fmt"
)

// Error codes. The api package maps each to one HTTP status, in one place.
const (
	EINVALID              = "invalid"               // 400
	EUNAUTHORIZED         = "unauthorized"          // 401
	EFORBIDDEN            = "forbidden"             // 403
	ENOTFOUND             = "not_found"             // 404
	ECONFLICT             = "conflict"              // 409
	EGONE                 = "gone"                  // 410: it was possible once, its time is up
	EPRECONDITIONFAILED   = "precondition_failed"   // 412
	ETOOLARGE             = "too_large"             // 413
	EUNSUPPORTEDMEDIA     = "unsupported_media"     // 415
	EUNPROCESSABLE        = "unprocessable"         // 422: well formed, but more than the collector takes on
	EPRECONDITIONREQUIRED = "precondition_required" // 428
	EINTERNAL             = "internal"              // 500
	EUNAVAILABLE          = "unavailable"           // 503
	ESTORAGEFULL          = "storage_full"          // 503 with Retry-After: the disk is full
)

// Error is an error meant for the caller of a service: Code says what kind,
// Message says what happened in words a user can act on.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic one: internal details are logged, not shown.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
