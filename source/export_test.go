package source

// WithoutPreCheck returns opts with the pre-check of kustomizations off:
// tests use it to prove that the sandbox alone keeps a render from
// fetching.
func WithoutPreCheck(opts RenderOptions) RenderOptions {
	opts.skipPreCheck = true
	return opts
}

// WithoutYAMLBounds returns opts with the YAML bounds of reads off: tests
// use it to prove that the sandbox's memory bound alone stops a bomb.
func WithoutYAMLBounds(opts RenderOptions) RenderOptions {
	opts.skipYAMLBounds = true
	return opts
}

// InProcess returns opts that build kustomizations in this process, as
// before the sandbox: benchmarks compare the two.
func InProcess(opts RenderOptions) RenderOptions {
	opts.inProcess = true
	return opts
}

// ForgetObjects empties the process's cache of Git objects: benchmarks
// measure a render of objects never read before.
func ForgetObjects() { objectCache = newObjectLRU(objectCacheBytes) }
