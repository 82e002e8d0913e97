package stack

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gantryops/gantry/internal/repourl"
	"go.yaml.in/yaml/v3"
)

// Load reads and validates the gantry.yaml at path. Relative local
// repository paths are resolved against the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack config: %w: pass --config, or create gantry.yaml (see docs/configuration.md)", err)
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	var errs []error
	for i := range cfg.Stacks {
		src := &cfg.Stacks[i].Source
		if src.Repo != "" && isLocalPath(src.Repo) && !filepath.IsAbs(src.Repo) {
			src.Repo = filepath.Join(dir, src.Repo)
		}
		if v := cfg.Stacks[i].Verify; v != nil {
			if !filepath.IsAbs(v.Keys) {
				v.Keys = filepath.Join(dir, v.Keys)
			}
			if _, err := os.ReadFile(v.Keys); err != nil {
				errs = append(errs, fmt.Errorf("%s: stacks[%d].verify.keys: %w: give a file of trusted public keys", path, i, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// isLocalPath reports whether repo is a path (resolved against the file's
// directory when relative).
func isLocalPath(repo string) bool { return repourl.FormOf(repo) == repourl.Local }

// Parse validates data, naming file in messages.
func Parse(file string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p := &parser{file: file}
	cfg := &Config{File: file}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty: declare apiVersion: %s, kind: %s and stacks", file, APIVersion, Kind)
	}
	root := doc.Content[0]
	var sawVersion, sawKind bool
	p.mapping(root, "", map[string]func(*yaml.Node, string){
		"apiVersion": func(n *yaml.Node, path string) {
			sawVersion = true
			if v := p.str(n, path); v != APIVersion && v != "" {
				p.fail(n, path, "%q is not supported: use %s", v, APIVersion)
			}
		},
		"kind": func(n *yaml.Node, path string) {
			sawKind = true
			if v := p.str(n, path); v != Kind && v != "" {
				p.fail(n, path, "%q: a gantry.yaml is kind %s", v, Kind)
			}
		},
		"stacks": func(n *yaml.Node, path string) {
			p.sequence(n, path, func(item *yaml.Node, path string) {
				cfg.Stacks = append(cfg.Stacks, p.stack(item, path))
			})
		},
		"notifications": func(n *yaml.Node, path string) { cfg.Notifications = p.notifications(n, path) },
	})
	if root.Kind == yaml.MappingNode {
		if !sawVersion {
			p.fail(root, "apiVersion", "missing: add apiVersion: %s", APIVersion)
		}
		if !sawKind {
			p.fail(root, "kind", "missing: add kind: %s", Kind)
		}
	}
	seen := map[string]int{}
	for i, s := range cfg.Stacks {
		if s.Name == "" {
			continue
		}
		if j, dup := seen[s.Name]; dup {
			p.errs = append(p.errs, fmt.Errorf("%s: stacks[%d].name: %q is already the name of stacks[%d]: stack names must be unique", file, i, s.Name, j))
		}
		seen[s.Name] = i
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return cfg, nil
}

// parser collects every error of a file rather than stopping at the first.
type parser struct {
	file string
	errs []error
}

func (p *parser) fail(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s: %s", p.file, n.Line, path, fmt.Sprintf(format, args...)))
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// mapping calls the handler of each key; unknown and repeated keys are errors.
func (p *parser) mapping(n *yaml.Node, path string, fields map[string]func(*yaml.Node, string)) {
	if n.Kind != yaml.MappingNode {
		p.fail(n, orRoot(path), "expected a mapping, found %s", describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		handle, ok := fields[key.Value]
		switch {
		case !ok:
			known := make([]string, 0, len(fields))
			for k := range fields {
				known = append(known, k)
			}
			slices.Sort(known)
			p.fail(key, join(path, key.Value), "unknown field (known fields here: %s)", strings.Join(known, ", "))
		case seen[key.Value]:
			p.fail(key, join(path, key.Value), "set twice")
		default:
			seen[key.Value] = true
			handle(value, join(path, key.Value))
		}
	}
}

func orRoot(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}

func (p *parser) sequence(n *yaml.Node, path string, item func(*yaml.Node, string)) {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "expected a list, found %s", describe(n))
		return
	}
	for i, c := range n.Content {
		item(c, fmt.Sprintf("%s[%d]", path, i))
	}
}

// Bounds of a render's byte budget (source.maxRenderBytes).
const (
	MinRenderBytes = 1 << 20
	MaxRenderBytes = 64 << 30
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// withDefaults returns a stack with every default set.
func withDefaults() Stack {
	return Stack{
		Source:          Source{Ref: DefaultRef, Path: "."},
		Prune:           true,
		MaxPrunePercent: DefaultMaxPrunePercent,
		Approval:        ApprovalAutoUnlessDestructive,
		Drift:           DriftCorrect,
		Schedule:        Schedule{Interval: DefaultInterval, Jitter: DefaultInterval / 10},
	}
}

// nameProblem says what is wrong with a stack name, or "".
func nameProblem(name string) string {
	if !dnsLabel.MatchString(name) {
		return fmt.Sprintf("%q is not a valid stack name: use lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit", name)
	}
	return ""
}

// pathProblem says what is wrong with a repository path, or "".
// insecureCredentialsProblem says why allowInsecureHTTPCredentials does not
// fit repo, or "": it is for plain http:// repositories only (https://
// and ssh:// are sent credentials anyway; git:// never, having no
// authentication).
func insecureCredentialsProblem(repo string) string {
	u, err := url.Parse(repo)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return "only an http:// repository needs it (https:// and ssh:// get credentials safely, git:// and paths get none): remove it"
	}
	return ""
}

func pathProblem(p string) string {
	if strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Sprintf("%q must be relative to the repository root and stay inside it", p)
	}
	return ""
}

// AdHoc returns a stack built from command-line flags rather than a file,
// with every default that gantry.yaml would give it and the same checks.
func AdHoc(name string, src Source, namespace string, forceConflicts bool) (*Stack, error) {
	s := withDefaults()
	s.Name, s.Target.Namespace, s.ForceConflicts = name, namespace, forceConflicts
	s.Source.Repo, s.Source.AllowRemoteBases = src.Repo, src.AllowRemoteBases
	s.Source.AllowInsecureHTTPCredentials = src.AllowInsecureHTTPCredentials
	s.Source.MaxRenderBytes, s.Source.Chart, s.Source.Artifact = src.MaxRenderBytes, src.Chart, src.Artifact
	if src.Ref != "" {
		s.Source.Ref = src.Ref
	}
	if src.Path != "" {
		s.Source.Path = src.Path
	}
	var problems []string
	if msg := nameProblem(name); msg != "" {
		problems = append(problems, "--stack: "+msg)
	}
	if msg := pathProblem(s.Source.Path); msg != "" {
		problems = append(problems, "--path: "+msg)
	}
	if namespace != "" && !dnsLabel.MatchString(namespace) {
		problems = append(problems, fmt.Sprintf("--namespace: %q is not a valid namespace name", namespace))
	}
	problems = append(problems, adHocSourceProblems(s.Source)...)
	if msg := insecureCredentialsProblem(s.Source.Repo); s.Source.AllowInsecureHTTPCredentials && msg != "" {
		problems = append(problems, "--allow-insecure-http-credentials: "+msg)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return &s, nil
}

func (p *parser) stack(n *yaml.Node, path string) Stack {
	s := withDefaults()
	jitterSet, sawName, sawSource := false, false, false
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"name": func(n *yaml.Node, path string) {
			sawName = true
			s.Name = p.str(n, path)
			if msg := nameProblem(s.Name); s.Name != "" && msg != "" {
				p.fail(n, path, "%s", msg)
			}
		},
		"source":          func(n *yaml.Node, path string) { sawSource = true; s.Source = p.source(n, path, s.Source) },
		"target":          func(n *yaml.Node, path string) { s.Target = p.target(n, path) },
		"prune":           func(n *yaml.Node, path string) { s.Prune = p.boolean(n, path) },
		"maxPrunePercent": func(n *yaml.Node, path string) { s.MaxPrunePercent = p.integer(n, path, 0, 100) },
		"allowEmpty":      func(n *yaml.Node, path string) { s.AllowEmpty = p.boolean(n, path) },
		"forceConflicts":  func(n *yaml.Node, path string) { s.ForceConflicts = p.boolean(n, path) },
		"approval": func(n *yaml.Node, path string) {
			s.Approval = Approval(p.str(n, path))
			allowed := []Approval{ApprovalAuto, ApprovalManual, ApprovalAutoUnlessDestructive}
			if !slices.Contains(allowed, s.Approval) {
				p.fail(n, path, "%q is not a policy: use auto, manual or auto-unless-destructive", s.Approval)
			}
		},
		"schedule": func(n *yaml.Node, path string) { jitterSet = p.schedule(n, path, &s.Schedule) },
		"windows": func(n *yaml.Node, path string) {
			p.sequence(n, path, func(item *yaml.Node, path string) {
				if w, ok := p.window(item, path); ok {
					s.Windows = append(s.Windows, w)
				}
			})
		},
		"verify":    func(n *yaml.Node, path string) { s.Verify = p.verify(n, path) },
		"sensitive": func(n *yaml.Node, path string) { s.Sensitive = p.sensitive(n, path) },
		"drift": func(n *yaml.Node, path string) {
			s.Drift = Drift(p.str(n, path))
			if s.Drift != DriftCorrect && s.Drift != DriftReport {
				p.fail(n, path, "%q is not a drift policy: use correct or report", s.Drift)
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if !sawName {
			p.fail(n, join(path, "name"), "missing: every stack needs a name")
		}
		if !sawSource {
			p.fail(n, join(path, "source"), "missing: give source.repo (and optionally ref and path)")
		}
	}
	if s.Verify != nil && (s.Source.Chart != nil || s.Source.Artifact != nil) {
		p.errs = append(p.errs, fmt.Errorf("%s: %s.verify: signatures are checked on Git commits; a chart from a Helm repository or an OCI artifact is checked by its digest", p.file, path))
	}
	if !jitterSet {
		s.Schedule.Jitter = s.Schedule.Interval / 10
	} else if s.Schedule.Jitter >= s.Schedule.Interval {
		p.errs = append(p.errs, fmt.Errorf("%s: %s.schedule.jitter: %s must be shorter than the interval %s", p.file, path, s.Schedule.Jitter, s.Schedule.Interval))
	}
	return s
}

// target reads where a stack's objects go.
func (p *parser) target(n *yaml.Node, path string) Target {
	var t Target
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"namespace": func(n *yaml.Node, path string) {
			t.Namespace = p.str(n, path)
			if t.Namespace != "" && !dnsLabel.MatchString(t.Namespace) {
				p.fail(n, path, "%q is not a valid namespace name", t.Namespace)
			}
		},
	})
	return t
}

// source reads a stack's source over src (its defaults).
func (p *parser) source(n *yaml.Node, path string, src Source) Source {
	sawRepo := false
	var insecure *yaml.Node
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"repo": func(n *yaml.Node, path string) { sawRepo = true; src.Repo = p.str(n, path) },
		"ref":  func(n *yaml.Node, path string) { src.Ref = p.str(n, path) },
		"path": func(n *yaml.Node, path string) {
			src.Path = p.str(n, path)
			if msg := pathProblem(src.Path); msg != "" {
				p.fail(n, path, "%s", msg)
			}
		},
		"allowRemoteBases": func(n *yaml.Node, path string) { src.AllowRemoteBases = p.boolean(n, path) },
		"allowInsecureHTTPCredentials": func(n *yaml.Node, path string) {
			src.AllowInsecureHTTPCredentials = p.boolean(n, path)
			insecure = n
		},
		"maxRenderBytes": func(n *yaml.Node, path string) { src.MaxRenderBytes = p.byteSize(n, path) },
		"helm":           func(n *yaml.Node, path string) { src.Helm = p.helm(n, path) },
		"chart":          func(n *yaml.Node, path string) { src.Chart = p.chart(n, path) },
		"artifact":       func(n *yaml.Node, path string) { src.Artifact = p.artifact(n, path) },
	})
	if n.Kind == yaml.MappingNode {
		p.sourceKind(n, path, src, sawRepo)
	}
	if insecure != nil && src.AllowInsecureHTTPCredentials && sawRepo {
		if msg := insecureCredentialsProblem(src.Repo); msg != "" {
			p.fail(insecure, join(path, "allowInsecureHTTPCredentials"), "%s", msg)
		}
	}
	return src
}

// schedule reads a stack's schedule into sch; it reports whether the
// jitter was given.
func (p *parser) schedule(n *yaml.Node, path string, sch *Schedule) (jitterSet bool) {
	p.mapping(n, path, map[string]func(*yaml.Node, string){
		"interval": func(n *yaml.Node, path string) {
			sch.Interval = p.duration(n, path)
			if sch.Interval != 0 && sch.Interval < MinInterval {
				p.fail(n, path, "%s is too short: reconcile at most every %s", sch.Interval, MinInterval)
			}
		},
		"jitter": func(n *yaml.Node, path string) { jitterSet = true; sch.Jitter = p.duration(n, path) },
	})
	return jitterSet
}
