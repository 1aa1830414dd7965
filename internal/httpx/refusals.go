package httpx

import "net/http"

// The refusals both services answer with, defined once (docs/contract.md §3, §5, §7): the same
// status, message and metric reason whichever service refuses.
var (
	ErrIPv6     = &Error{Status: http.StatusForbidden, Reason: "ipv6", Message: "ipv6 access is prohibited"}
	ErrMethod   = &Error{Status: http.StatusMethodNotAllowed, Reason: "method", Message: "method not allowed"}
	ErrPath     = &Error{Status: http.StatusBadRequest, Reason: "path", Message: "invalid path encoding"}
	ErrPolicy   = &Error{Status: http.StatusForbidden, Reason: "policy", Message: "access denied"}
	ErrNotFound = &Error{Status: http.StatusNotFound, Reason: "not_found", Message: "object not found"}
)
