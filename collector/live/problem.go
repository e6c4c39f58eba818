package live

import (
	"net/http"

	"github.com/visitrack/visitrack/collector/problem"
)

// writeProblem answers a browser endpoint with an RFC 9457 problem, in the
// shape the REST API answers too (collector/problem).
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}
