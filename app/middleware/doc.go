// Package middleware holds the HTTP middleware shared by the server's surfaces.
package middleware
