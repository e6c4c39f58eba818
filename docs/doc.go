// Package docs keeps Visitrack's documentation honest: its tests fail when
// docs/api.md no longer matches collector/api/openapi.json, and when a
// relative link or #anchor in README.md or docs/*.md leads nowhere.
//
// The API reference is generated; edit api-intro.md (its hand-written
// introduction) or the OpenAPI document, then regenerate it.
package docs

//go:generate go run ./cmd/apidocs
