package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/client-go/discovery"
)

// Capabilities returns what a Helm chart's .Capabilities reads of the
// cluster: the API server's version (asked once per Cluster: one request
// in the process's life) and the API versions it serves, "group/version"
// and "group/version/Kind" as Helm lists them, from discovery (cached: no
// request once warm). A group whose discovery fails is left out, as
// kubectl leaves it out.
func (c *Cluster) Capabilities(ctx context.Context) (string, []string, error) {
	c.capsMu.Lock()
	version := c.serverVersion
	c.capsMu.Unlock()
	if version == "" {
		info, err := c.discovery.ServerVersion()
		if err != nil {
			return "", nil, fmt.Errorf("%s: server version: %w", c.host, err)
		}
		version = info.GitVersion
		c.capsMu.Lock()
		c.serverVersion = version
		c.capsMu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	_, lists, err := c.discovery.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return "", nil, fmt.Errorf("%s: discovery: %w", c.host, err)
	}
	var versions []string
	for _, l := range lists {
		versions = append(versions, l.GroupVersion)
		for _, r := range l.APIResources {
			if !strings.Contains(r.Name, "/") {
				versions = append(versions, l.GroupVersion+"/"+r.Kind)
			}
		}
	}
	slices.Sort(versions)
	return version, slices.Compact(versions), nil
}
