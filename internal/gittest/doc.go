// Package gittest makes real Git repositories and serves them on loopback for
// tests: over HTTP through the real `git http-backend` (net/http/cgi) with
// optional token auth, and over SSH through the real `git-upload-pack`. It
// needs the git binary; tests fail, never skip, when it is missing.
package gittest
