// Package review puts plans where reviewers look: a pull request's
// conversation on GitHub. It finds the pull request's head, and keeps one
// comment per pull request and stack — found again by a hidden marker and
// edited in place on every push — holding the Markdown plan of that stack
// at that head. It talks to GitHub's REST API through go-github, with a
// token or as a GitHub App installation, finds out once who its comments
// are written by (Identity), and edits only comments by that identity:
// the marker alone, which anyone can write, never decides.
package review
