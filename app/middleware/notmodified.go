package middleware

import "net/http"

// NoneMatch reports whether the request's If-None-Match names tag (or is "*"), that is,
// whether a GET for a resource whose current entity tag is tag should be answered with 304.
// Handlers that know their tag before doing any work call it to skip the work.
func NoneMatch(r *http.Request, tag string) bool {
	return noneMatch(r.Header.Values("If-None-Match"), tag)
}
