package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/idna"
)

// Profile is an allowlist profile: the hosts and ports a client must reach,
// as a firewall or proxy team writes them down.
type Profile struct {
	Name string `json:"name" yaml:"name"`
	// Ports apply to hosts that list none.
	Ports []int         `json:"ports" yaml:"ports"`
	Hosts []ProfileHost `json:"hosts" yaml:"hosts"`
}

// ProfileHost is one entry. A wildcard host ("*.acme-cdn.net") cannot be
// dialled, so it names a Probe host under it that is tried in its place.
//
// Port 80 is plain HTTP (CRL, OCSP and AIA hosts); HTTP marks an entry
// whose every port is plain HTTP. Through a proxy a plain-HTTP entry is
// tried as a client fetching a CRL does (an absolute-form HEAD request
// through the proxy), any other with CONNECT.
type ProfileHost struct {
	Host  string `json:"host" yaml:"host"`
	Probe string `json:"probe,omitempty" yaml:"probe,omitempty"`
	Ports []int  `json:"ports,omitempty" yaml:"ports,omitempty"`
	HTTP  bool   `json:"http,omitempty" yaml:"http,omitempty"`
	Note  string `json:"note,omitempty" yaml:"note,omitempty"`
}

// LoadProfile reads a profile file, JSON when it ends in .json, YAML
// otherwise.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	p, err := ParseProfile(data, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// ParseProfile parses and validates a profile. Unknown fields are refused,
// so a misspelt key is not silently ignored.
func ParseProfile(data []byte, isJSON bool) (*Profile, error) {
	var p Profile
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Profile) validate() error {
	if len(p.Hosts) == 0 {
		return errors.New("no hosts: list the hosts to try under hosts:")
	}
	if err := validPorts(p.Ports); err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	for i := range p.Hosts {
		h := &p.Hosts[i]
		name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h.Host), "."))
		if name == "" {
			return fmt.Errorf("hosts[%d]: host is empty", i)
		}
		if err := validPorts(h.Ports); err != nil {
			return fmt.Errorf("hosts[%d] (%s): ports: %w", i, name, err)
		}
		if len(h.Ports) == 0 && len(p.Ports) == 0 {
			return fmt.Errorf("hosts[%d] (%s): no ports, and the profile sets no default ports", i, name)
		}
		if base, ok := strings.CutPrefix(name, "*."); ok {
			if err := validName(base); err != nil {
				return fmt.Errorf("hosts[%d]: %q: %w", i, h.Host, err)
			}
			probe := strings.ToLower(strings.TrimSuffix(h.Probe, "."))
			if probe == "" {
				return fmt.Errorf("hosts[%d]: wildcard %q needs a probe host under it to try (probe: some.%s)", i, h.Host, base)
			}
			if !strings.HasSuffix(probe, "."+base) || validName(probe) != nil {
				return fmt.Errorf("hosts[%d]: probe %q is not a host name under %q", i, h.Probe, h.Host)
			}
			h.Probe = probe
		} else {
			if strings.Contains(name, "*") {
				return fmt.Errorf("hosts[%d]: %q: a wildcard is allowed only as the first label (*.example.com)", i, h.Host)
			}
			if err := validName(name); err != nil {
				return fmt.Errorf("hosts[%d]: %q: %w", i, h.Host, err)
			}
			if h.Probe != "" {
				return fmt.Errorf("hosts[%d]: probe is only for wildcard hosts", i)
			}
		}
		h.Host = name
	}
	return nil
}

func validPorts(ps []int) error {
	for _, p := range ps {
		if p < 1 || p > 65535 {
			return fmt.Errorf("%d is not a port (1-65535)", p)
		}
	}
	return nil
}

func validName(n string) error {
	if _, err := idna.Lookup.ToASCII(n); err != nil || n == "" {
		return errors.New("not a valid host name")
	}
	return nil
}

// probes returns what to try for the profile: host, port and the profile
// entry it stands for.
func (p *Profile) probes() []probe {
	var out []probe
	for _, h := range p.Hosts {
		ports := h.Ports
		if len(ports) == 0 {
			ports = p.Ports
		}
		dial := h.Host
		if h.Probe != "" {
			dial = h.Probe
		}
		for _, port := range ports {
			out = append(out, probe{host: dial, port: port, entry: h.Host, why: h.Note, plain: h.HTTP || port == 80})
		}
	}
	return out
}
