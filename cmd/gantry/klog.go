package main

import (
	"github.com/go-logr/logr"
	"github.com/hashicorp/go-hclog"
	"k8s.io/klog/v2"
)

// routeKlog sends client-go's klog lines into log (named "client-go"), so
// that they come out in the same format (--log-format json) and obey
// --log-level: klog's info lines at debug (verbose ones at trace), its
// errors at error.
func routeKlog(log hclog.Logger) {
	klog.SetLogger(logr.New(&klogSink{log: log.Named("client-go")}))
}

// klogSink is a logr.LogSink over hclog.
type klogSink struct {
	log hclog.Logger
}

func (s *klogSink) Init(logr.RuntimeInfo) {}

func (s *klogSink) Enabled(level int) bool {
	if level > 0 {
		return s.log.IsTrace()
	}
	return s.log.IsDebug()
}

func (s *klogSink) Info(level int, msg string, kv ...any) {
	if level > 0 {
		s.log.Trace(msg, kv...)
		return
	}
	s.log.Debug(msg, kv...)
}

func (s *klogSink) Error(err error, msg string, kv ...any) {
	s.log.Error(msg, append(kv, "error", err)...)
}

func (s *klogSink) WithValues(kv ...any) logr.LogSink {
	return &klogSink{log: s.log.With(kv...)}
}

func (s *klogSink) WithName(name string) logr.LogSink {
	return &klogSink{log: s.log.Named(name)}
}
