// Package sdk checks that Microsoft's own Graph client for Go,
// github.com/microsoftgraph/msgraph-sdk-go, drives accessd unchanged: only
// its base URL and its token differ from a client of Entra.
//
// It is a module of its own, so that the main module does not carry the
// SDK (a cold build of it takes minutes and gigabytes). Its tests build
// cmd/accessd from the repository, start it on a free port with a new
// database, and walk an administrator's and an extension's day through the
// SDK alone. Run them with `go test ./...` in this directory; see the
// README for the PostgreSQL run.
package sdk
