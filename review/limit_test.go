package review_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/githubtest"
)

// TestStandInRefusesLongComments: the stand-in answers a comment over
// 65,536 characters as GitHub does, with 422, so that the review tests would
// catch a comment gantry let grow past the limit.
func TestStandInRefusesLongComments(t *testing.T) {
	t.Parallel()
	srv := githubtest.NewServer(t, "acme", "deploy", "tok")
	srv.AddPR(githubtest.PR{Number: 1, HeadSHA: strings.Repeat("f", 40)})
	post := func(n int) int {
		body, _ := json.Marshal(map[string]string{"body": strings.Repeat("é", n)})
		req, _ := http.NewRequest("POST", srv.URL+"/repos/acme/deploy/issues/1/comments", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(65536); code != http.StatusCreated {
		t.Errorf("65,536 characters: %d, want 201", code)
	}
	if code := post(65537); code != http.StatusUnprocessableEntity {
		t.Errorf("65,537 characters: %d, want 422", code)
	}
}
