package source_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/internal/gittest"
	"github.com/gantryops/gantry/source"
)

// signingGit runs git in dir with extra environment and config.
func signingGit(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=gantry test", "GIT_AUTHOR_EMAIL=test@gantry.invalid",
		"GIT_COMMITTER_NAME=gantry test", "GIT_COMMITTER_EMAIL=test@gantry.invalid"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// signers are signing keys for tests: SSH keys "trusted" and "other" in
// dir, and an OpenPGP key (release@gantry.invalid) in a private GNUPGHOME.
type signers struct {
	dir        string
	trustedSSH []byte   // trusted.pub
	gpgEnv     []string // GNUPGHOME for gpg and git
	keyring    string   // the OpenPGP public key, armored
}

func newSigners(t *testing.T) signers {
	t.Helper()
	k := signers{dir: t.TempDir()}
	for _, name := range []string{"trusted", "other"} {
		run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", filepath.Join(k.dir, name))
	}
	var err error
	if k.trustedSSH, err = os.ReadFile(filepath.Join(k.dir, "trusted.pub")); err != nil {
		t.Fatal(err)
	}
	gnupg := filepath.Join(k.dir, "gnupg")
	if err := os.Mkdir(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	k.gpgEnv = []string{"GNUPGHOME=" + gnupg}
	run(t, k.gpgEnv, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Release Bot <release@gantry.invalid>", "ed25519", "sign", "never")
	k.keyring = run(t, k.gpgEnv, "gpg", "--batch", "--armor", "--export", "release@gantry.invalid")
	return k
}

// TestVerifySignature signs commits with real git, as OpenPGP (gpg) and
// SSH (ssh-keygen) signatures, and verifies them against key rings: a
// commit signed by a listed key passes, an unsigned one, one signed by
// another key, or one signed the other way is refused.
func TestVerifySignature(t *testing.T) {
	t.Parallel()
	k := newSigners(t)
	keys, trustedSSH, gpgEnv, keyring := k.dir, k.trustedSSH, k.gpgEnv, k.keyring

	repo := gittest.NewRepo(t)
	commit := func(msg string, env []string, config ...string) string {
		repo.Write(map[string]string{"deploy/cm.yaml": configMap(strings.ReplaceAll(msg, " ", "-"), "1")})
		signingGit(t, repo.Dir, env, "add", "-A")
		signingGit(t, repo.Dir, env, append(config, "commit", "-q", "-m", msg)...)
		return signingGit(t, repo.Dir, nil, "rev-parse", "HEAD")
	}
	sshSigned := commit("ssh signed", nil, "-c", "gpg.format=ssh", "-c", "user.signingkey="+filepath.Join(keys, "trusted.pub"), "-c", "commit.gpgsign=true")
	sshOther := commit("ssh other", nil, "-c", "gpg.format=ssh", "-c", "user.signingkey="+filepath.Join(keys, "other.pub"), "-c", "commit.gpgsign=true")
	pgpSigned := commit("pgp signed", gpgEnv, "-c", "user.signingkey=release@gantry.invalid", "-c", "commit.gpgsign=true")
	unsigned := commit("unsigned", nil)

	f := newFetcher(t, source.Auth{})
	verify := func(sha string, p source.SignatureProvider, keys []byte) (string, error) {
		t.Helper()
		c, err := f.Fetch(context.Background(), repo.Dir, sha)
		if err != nil {
			t.Fatal(err)
		}
		return c.VerifySignature(p, keys)
	}
	allowed := append([]byte("# deploy keys\nrelease@gantry.invalid "), trustedSSH...)
	if signer, err := verify(sshSigned, source.SignatureSSH, allowed); err != nil || !strings.HasPrefix(signer, "SHA256:") {
		t.Errorf("SSH-signed commit: %q, %v; want it verified", signer, err)
	}
	if signer, err := verify(pgpSigned, source.SignatureOpenPGP, []byte(keyring)); err != nil || !strings.Contains(signer, "release@gantry.invalid") {
		t.Errorf("OpenPGP-signed commit: %q, %v; want it verified", signer, err)
	}
	for _, tc := range []struct {
		name     string
		sha      string
		provider source.SignatureProvider
		keys     []byte
		want     string
	}{
		{"unsigned, ssh", unsigned, source.SignatureSSH, allowed, "is not signed"},
		{"unsigned, openpgp", unsigned, source.SignatureOpenPGP, []byte(keyring), "is not signed"},
		{"another SSH key", sshOther, source.SignatureSSH, allowed, "not one of the stack's keys"},
		{"SSH-signed, OpenPGP expected", sshSigned, source.SignatureOpenPGP, []byte(keyring), "signed with SSH"},
		{"OpenPGP-signed, SSH expected", pgpSigned, source.SignatureSSH, allowed, "not an SSH signature"},
		{"OpenPGP, key not in the ring", pgpSigned, source.SignatureOpenPGP, nil, "not signed by a key of the stack's OpenPGP key ring"},
	} {
		_, err := verify(tc.sha, tc.provider, tc.keys)
		if !errors.Is(err, source.ErrUnverified) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrUnverified saying %q", tc.name, err, tc.want)
		}
	}
}

// TestVerifyTagSignature: in tag mode the annotated tag the ref names must
// be signed (by git tag -s, SSH or OpenPGP) by a trusted key, and be the
// tag of that name; an unsigned annotated tag, a lightweight tag, a branch,
// a tag signed by another key, or a signed tag re-tagged under another name
// (a ref v9.0.0 pointing at the tag object signed as v1.0.0) is refused.
func TestVerifyTagSignature(t *testing.T) {
	t.Parallel()
	k := newSigners(t)
	keys, trustedSSH, gpgEnv, keyring := k.dir, k.trustedSSH, k.gpgEnv, k.keyring

	repo := gittest.NewRepo(t)
	repo.Commit("unsigned commit", map[string]string{"deploy/cm.yaml": configMap("a", "1")})
	sshTag := func(name, key string) {
		signingGit(t, repo.Dir, nil, "-c", "gpg.format=ssh", "-c", "user.signingkey="+filepath.Join(keys, key+".pub"), "tag", "-s", "-m", name, name)
	}
	sshTag("v1.0.0", "trusted")
	sshTag("v1.0.1-other", "other")
	signingGit(t, repo.Dir, gpgEnv, "-c", "user.signingkey=release@gantry.invalid", "tag", "-s", "-m", "pgp", "v2.0.0")
	signingGit(t, repo.Dir, nil, "tag", "-a", "-m", "annotated, unsigned", "v3.0.0")
	signingGit(t, repo.Dir, nil, "tag", "v4.0.0") // lightweight
	// Old signed tags re-tagged under new names: refs pointing at the tag
	// object signed for v1.0.0 (SSH) and v2.0.0 (OpenPGP).
	signingGit(t, repo.Dir, nil, "update-ref", "refs/tags/v9.0.0", signingGit(t, repo.Dir, nil, "rev-parse", "refs/tags/v1.0.0"))
	signingGit(t, repo.Dir, nil, "update-ref", "refs/tags/v9.0.1", signingGit(t, repo.Dir, nil, "rev-parse", "refs/tags/v2.0.0"))
	signingGit(t, repo.Dir, nil, "update-ref", "refs/tags/release/v1.0.0", signingGit(t, repo.Dir, nil, "rev-parse", "refs/tags/v1.0.0"))

	f := newFetcher(t, source.Auth{})
	verify := func(ref string, p source.SignatureProvider, keys []byte) (string, error) {
		t.Helper()
		c, err := f.Fetch(context.Background(), repo.Dir, ref)
		if err != nil {
			t.Fatal(err)
		}
		return c.VerifyTagSignature(p, keys)
	}
	if signer, err := verify("v1.0.0", source.SignatureSSH, trustedSSH); err != nil || !strings.HasPrefix(signer, "SHA256:") {
		t.Errorf("SSH-signed tag: %q, %v", signer, err)
	}
	if signer, err := verify("refs/tags/v2.0.0", source.SignatureOpenPGP, []byte(keyring)); err != nil || !strings.Contains(signer, "release@gantry.invalid") {
		t.Errorf("OpenPGP-signed tag: %q, %v", signer, err)
	}
	for _, tc := range []struct {
		ref      string
		provider source.SignatureProvider
		keys     []byte
		want     string
	}{
		{"v1.0.1-other", source.SignatureSSH, trustedSSH, "not one of the stack's keys"},
		{"v3.0.0", source.SignatureSSH, trustedSSH, "tag v3.0.0 of"},
		{"v4.0.0", source.SignatureSSH, trustedSSH, "is not an annotated tag"},
		{"main", source.SignatureSSH, trustedSSH, "is not an annotated tag"},
		{"v9.0.0", source.SignatureSSH, trustedSSH, `the signed tag is named "v1.0.0", not "v9.0.0"`},
		{"refs/tags/v9.0.0", source.SignatureSSH, trustedSSH, `the signed tag is named "v1.0.0", not "v9.0.0"`},
		{"v9.0.1", source.SignatureOpenPGP, []byte(keyring), `the signed tag is named "v2.0.0", not "v9.0.1"`},
		{"release/v1.0.0", source.SignatureSSH, trustedSSH, `the signed tag is named "v1.0.0", not "release/v1.0.0"`},
	} {
		if _, err := verify(tc.ref, tc.provider, tc.keys); !errors.Is(err, source.ErrUnverified) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrUnverified saying %q", tc.ref, err, tc.want)
		}
	}
}

// TestVerifyTagSignatureIgnoresStaleTags: the tag verified is the one the
// fetch matched on the remote, pointing at the commit fetched. A pusher who
// cannot sign deletes a signed tag and pushes a branch of its name: the
// signed tag left in the cache from an earlier fetch must not vouch for the
// branch's unsigned commit.
func TestVerifyTagSignatureIgnoresStaleTags(t *testing.T) {
	t.Parallel()
	k := newSigners(t)
	repo := gittest.NewRepo(t)
	repo.Commit("release", map[string]string{"deploy/cm.yaml": configMap("a", "1")})
	signingGit(t, repo.Dir, nil, "-c", "gpg.format=ssh", "-c", "user.signingkey="+filepath.Join(k.dir, "trusted.pub"), "tag", "-s", "-m", "v1.0.0", "v1.0.0")
	f := newFetcher(t, source.Auth{})
	c, err := f.Fetch(context.Background(), repo.Dir, "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyTagSignature(source.SignatureSSH, k.trustedSSH); err != nil {
		t.Fatalf("the signed tag itself: %v", err)
	}
	signingGit(t, repo.Dir, nil, "tag", "-d", "v1.0.0")
	evil := repo.Commit("unsigned", map[string]string{"deploy/cm.yaml": configMap("a", "EVIL")})
	signingGit(t, repo.Dir, nil, "branch", "v1.0.0", evil)
	c, err = f.Fetch(context.Background(), repo.Dir, "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if c.SHA != evil {
		t.Fatalf("fetched %s, want the branch's commit %s", c.SHA, evil)
	}
	if signer, err := c.VerifyTagSignature(source.SignatureSSH, k.trustedSSH); !errors.Is(err, source.ErrUnverified) {
		t.Errorf("the branch's unsigned commit passed tag verification (signer %q, err %v): the stale cached tag vouched for it", signer, err)
	}
}
