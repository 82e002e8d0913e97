package source

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"

	"github.com/gantryops/gantry/object"
)

// SignatureProvider is how commits are signed. Values are configuration:
// stable.
type SignatureProvider string

// Signature providers, as git knows them (gpg.format).
const (
	SignatureOpenPGP SignatureProvider = "openpgp"
	SignatureSSH     SignatureProvider = "ssh"
)

// ErrUnverified wraps every refusal of VerifySignature.
var ErrUnverified = errors.New("commit signature not verified")

// VerifySignature checks that the commit is signed by one of keys: an
// armored OpenPGP key ring, or SSH public keys one per line (as in
// authorized_keys or an allowed-signers list without principals). It
// returns who signed (the key's identity or fingerprint). An unsigned commit
// or a signature by another key is an error wrapping ErrUnverified.
func (c *Commit) VerifySignature(provider SignatureProvider, keys []byte) (string, error) {
	sig := c.commit.PGPSignature
	short := object.ShortSHA(c.SHA)
	if strings.TrimSpace(sig) == "" {
		return "", fmt.Errorf("%w: commit %s of %s is not signed: sign it (git commit -S), or turn verification off for this stack", ErrUnverified, short, c.Repo)
	}
	return verifyObject(provider, keys, sig, "commit "+short, func(ring string) (*openpgp.Entity, error) { return c.commit.Verify(ring) }, c.commit.EncodeWithoutSignature)
}

// VerifyTagSignature checks, as VerifySignature does for the commit, that
// the annotated tag the ref names is signed by one of keys (Flux's tag
// mode: releases are tagged and signed, commits need not be), and that it
// is the tag of that name: the name signed inside the tag object must be
// the ref's, or an old signed tag could be published again under a new
// name (refs/tags/v2.0.0 pointing at the tag object signed as v1.0.0). A
// ref that is not an annotated tag is refused.
func (c *Commit) VerifyTagSignature(provider SignatureProvider, keys []byte) (string, error) {
	if c.tag == nil {
		return "", fmt.Errorf("%w: %q is not an annotated tag of %s, and the stack verifies tag signatures: point the stack at a signed tag (git tag -s)", ErrUnverified, c.Ref, c.Repo)
	}
	t := c.tag
	if strings.TrimSpace(t.PGPSignature) == "" {
		return "", fmt.Errorf("%w: tag %s of %s is not signed: sign it (git tag -s)", ErrUnverified, t.Name, c.Repo)
	}
	signer, err := verifyObject(provider, keys, t.PGPSignature, "tag "+t.Name, func(ring string) (*openpgp.Entity, error) { return t.Verify(ring) }, t.EncodeWithoutSignature)
	if err != nil {
		return "", err
	}
	if err := tagNameMatches(t.Name, c.tagName); err != nil {
		return "", fmt.Errorf("%w: %s of %s: %v", ErrUnverified, c.tagName, c.Repo, err)
	}
	return signer, nil
}

// tagNameMatches checks that the name a tag object was signed with is the
// name of the ref that points at it.
func tagNameMatches(signed string, ref plumbing.ReferenceName) error {
	if name := ref.Short(); signed != name {
		return fmt.Errorf("the signed tag is named %q, not %q: a tag signed for one name was published under another; sign a tag of this name (git tag -s %s)", signed, name, name)
	}
	return nil
}

// verifyObject verifies sig, the signature of a commit or tag (what), whose
// encoding without it is written by unsigned.
func verifyObject(provider SignatureProvider, keys []byte, sig, what string, pgp func(string) (*openpgp.Entity, error), unsigned func(plumbing.EncodedObject) error) (string, error) {
	short := what
	switch provider {
	case SignatureOpenPGP:
		if strings.Contains(sig, "BEGIN SSH SIGNATURE") {
			return "", fmt.Errorf("%w: %s is signed with SSH, and the stack verifies OpenPGP signatures", ErrUnverified, short)
		}
		e, err := pgp(string(keys))
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v: it is not signed by a key of the stack's OpenPGP key ring", ErrUnverified, short, err)
		}
		for name := range e.Identities {
			return name, nil
		}
		return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint), nil
	case SignatureSSH:
		msg, err := encoded(unsigned)
		if err != nil {
			return "", err
		}
		signer, err := verifySSH(sig, msg, keys)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrUnverified, short, err)
		}
		return signer, nil
	}
	return "", fmt.Errorf("signature provider %q: use openpgp or ssh", provider)
}

// encoded is an object as it was signed: its encoding without the
// signature.
func encoded(unsigned func(plumbing.EncodedObject) error) ([]byte, error) {
	o := &plumbing.MemoryObject{}
	if err := unsigned(o); err != nil {
		return nil, err
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(r)
	return b.Bytes(), err
}

// verifySSH verifies an SSH signature (OpenSSH's SSHSIG format, namespace
// "git", as `git commit -S` with gpg.format=ssh makes) of msg by one of the
// keys, and returns the signing key's fingerprint.
func verifySSH(armored string, msg, keys []byte) (string, error) {
	block, _ := pem.Decode([]byte(armored))
	if block == nil || block.Type != "SSH SIGNATURE" {
		return "", errors.New("the signature is not an SSH signature")
	}
	var sig struct {
		Magic     [6]byte
		Version   uint32
		PublicKey []byte
		Namespace string
		Reserved  string
		HashAlg   string
		Signature []byte
	}
	if len(block.Bytes) < 6 || string(block.Bytes[:6]) != "SSHSIG" {
		return "", errors.New("the SSH signature has no SSHSIG header")
	}
	if err := ssh.Unmarshal(block.Bytes, &sig); err != nil {
		return "", fmt.Errorf("the SSH signature cannot be read: %v", err)
	}
	if sig.Version != 1 || sig.Namespace != "git" {
		return "", fmt.Errorf("the SSH signature is version %d for namespace %q, not a git signature (version 1, namespace git)", sig.Version, sig.Namespace)
	}
	pub, err := ssh.ParsePublicKey(sig.PublicKey)
	if err != nil {
		return "", fmt.Errorf("the SSH signature's key: %v", err)
	}
	if !allowedKey(pub, keys) {
		return "", fmt.Errorf("it is signed by SSH key %s, which is not one of the stack's keys", ssh.FingerprintSHA256(pub))
	}
	var h hash.Hash
	switch sig.HashAlg {
	case "sha512":
		h = sha512.New()
	case "sha256":
		h = sha256.New()
	default:
		return "", fmt.Errorf("the SSH signature uses hash %q", sig.HashAlg)
	}
	h.Write(msg)
	signed := ssh.Marshal(struct {
		Magic     [6]byte
		Namespace string
		Reserved  string
		HashAlg   string
		Hash      string
	}{sig.Magic, sig.Namespace, sig.Reserved, sig.HashAlg, string(h.Sum(nil))})
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		return "", fmt.Errorf("the SSH signature cannot be read: %v", err)
	}
	if err := pub.Verify(signed, &s); err != nil {
		return "", fmt.Errorf("the SSH signature by %s does not match the commit: %v", ssh.FingerprintSHA256(pub), err)
	}
	return ssh.FingerprintSHA256(pub), nil
}

// allowedKey reports whether pub is one of keys (authorized_keys lines;
// blank lines and comments skipped; an allowed-signers line's principals
// before the key are skipped too).
func allowedKey(pub ssh.PublicKey, keys []byte) bool {
	want := pub.Marshal()
	for _, line := range strings.Split(string(keys), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		for i := range fields {
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(fields[i:], " ")))
			if err == nil {
				if bytes.Equal(k.Marshal(), want) {
					return true
				}
				break
			}
		}
	}
	return false
}
