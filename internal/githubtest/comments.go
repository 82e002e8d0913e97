package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// listComments pages as GitHub does: per_page (default 30, at most 100),
// page (from 1), and a Link header with rel="next" and rel="last".
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, _ principal) {
	n, ok := s.number(w, r)
	if !ok {
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	s.mu.Lock()
	all := s.comments[n]
	from, to := min((page-1)*per, len(all)), min(page*per, len(all))
	out := make([]Comment, 0, to-from)
	for _, c := range all[from:to] {
		out = append(out, *c)
	}
	s.mu.Unlock()
	last := max(1, (len(all)+per-1)/per)
	var links []string
	link := func(p int, rel string) {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		links = append(links, fmt.Sprintf("<%s%s>; rel=%q", s.URL, u.RequestURI(), rel))
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, out)
}

// tooLong is GitHub's 422 for a body over 65,536 characters.
func tooLong(w http.ResponseWriter, body string) bool {
	if utf8.RuneCountInString(body) <= 65536 {
		return false
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed",
		"errors":  []map[string]string{{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}},
	})
	return true
}

func readBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request: body is missing"})
		return "", false
	}
	return *in.Body, !tooLong(w, *in.Body)
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request, who principal) {
	n, ok := s.number(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	c := *s.addLocked(n, body, who)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, c)
}

// editComment edits any comment of the repository: GitHub lets a token
// with write access to issues or pull requests edit others' comments too,
// so only the client can keep itself to its own.
func (s *Server) editComment(w http.ResponseWriter, r *http.Request, _ principal) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prs := make([]int, 0, len(s.comments))
	for pr := range s.comments {
		prs = append(prs, pr)
	}
	sort.Ints(prs)
	for _, pr := range prs {
		for _, c := range s.comments[pr] {
			if c.ID == id {
				c.Body = body
				writeJSON(w, http.StatusOK, *c)
				return
			}
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}
