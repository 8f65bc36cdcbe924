package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpproxy"

	"github.com/hallmark-dev/hallmark/internal/doctor"
)

type doctorOptions struct {
	json        bool
	pins        []string
	roots       string
	publicRoots string
	profile     string
	proxy       string
	timeout     time.Duration
}

func newDoctorCmd(stdout, stderr io.Writer) *cobra.Command {
	return newDoctorCmdEnv(stdout, stderr, os.Getenv)
}

// newDoctorCmdEnv is newDoctorCmd reading the environment (HTTPS_PROXY,
// HTTP_PROXY, NO_PROXY, NO_COLOR) through getenv, so tests can give it one
// without touching the process's.
func newDoctorCmdEnv(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor TARGET",
		Short: "Find out why a client cannot trust a TLS server, and what to change",
		Long: `Diagnose TARGET (an https URL, a host or host:port) as a strict client sees it:
name resolution, TCP, the proxy and its CONNECT answer, the TLS handshake, the chain
(expired, wrong name, self-signed, untrusted, incomplete), TLS inspection, pins,
revocation (every CRL and OCSP URL, with its host and port), the local clock and an
optional allowlist profile. Exit status: 0 no error, 1 an error finding, 2 bad arguments.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("doctor: want one TARGET (an https URL, a host or host:port), got %d arguments", len(args))
			}
			t, err := doctor.ParseTarget(args[0])
			if err != nil {
				return usageError("doctor: %v", err)
			}
			cfg, err := o.config(getenv)
			if err != nil {
				return usageError("doctor: %v", err)
			}
			d, err := doctor.New(cfg)
			if err != nil {
				return usageError("doctor: %v", err)
			}
			rep := d.Diagnose(cmd.Context(), t)
			if o.json {
				err = rep.WriteJSON(stdout)
			} else {
				err = rep.WriteText(stdout, doctor.TextOptions{Color: colorOK(stdout, getenv)})
			}
			if err != nil {
				return err
			}
			if rep.HasError() {
				return &exitError{Code: 1}
			}
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVar(&o.json, "json", false, "machine-readable report on stdout")
	cmd.AddCommand(newDoctorDNSCmd(stdout, stderr), newDoctorAllowlistCmd(stdout, getenv))
	return cmd
}

// flags declares the flags the doctor's commands share.
func (o *doctorOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.pins, "pin", nil, "expected SPKI pin, sha256/BASE64 (RFC 7469); repeatable, one match is enough")
	f.StringVar(&o.roots, "roots", "", "PEM file of the trust store to verify against instead of the system's")
	f.StringVar(&o.publicRoots, "public-roots", "", "PEM file of the publicly trusted roots (default: Mozilla's, embedded)")
	f.StringVar(&o.profile, "profile", "", "allowlist profile (YAML, or JSON when it ends in .json): hosts and ports to try")
	f.StringVar(&o.proxy, "proxy", "", "proxy URL used for every host, loopback included (default: HTTPS_PROXY / NO_PROXY)")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-step timeout (look-up, dial, handshake, each fetch)")
}

// config turns the flags (and, for the proxy, the environment read through
// getenv) into the doctor's configuration.
func (o *doctorOptions) config(getenv func(string) string) (doctor.Config, error) {
	cfg := doctor.Config{Pins: o.pins, Timeout: o.timeout}
	if o.timeout <= 0 {
		return cfg, fmt.Errorf("--timeout %s: want a positive duration such as 5s", o.timeout)
	}
	var err error
	if o.roots != "" {
		if cfg.Roots, err = loadPool("--roots", o.roots); err != nil {
			return cfg, err
		}
	}
	if o.publicRoots != "" {
		if cfg.PublicRoots, err = loadPool("--public-roots", o.publicRoots); err != nil {
			return cfg, err
		}
	}
	if o.profile != "" {
		if cfg.Profile, err = doctor.LoadProfile(o.profile); err != nil {
			return cfg, fmt.Errorf("--profile: %w", err)
		}
	}
	if o.proxy != "" {
		pu, err := parseProxy(o.proxy)
		if err != nil {
			return cfg, err
		}
		cfg.Proxy = func(*url.URL) (*url.URL, error) { return pu, nil }
		cfg.ProxySource = "--proxy"
		return cfg, nil
	}
	env, err := proxyEnv(getenv)
	if err != nil {
		return cfg, err
	}
	if env.HTTPSProxy != "" || env.HTTPProxy != "" {
		cfg.ProxyEnv = env
	}
	return cfg, nil
}

// proxyEnv reads the proxy settings as httpproxy.FromEnvironment does
// (upper case first, then lower case; REQUEST_METHOD marks a CGI process)
// and refuses a value that is not a URL, without echoing it: it may carry
// a password.
func proxyEnv(getenv func(string) string) (*httpproxy.Config, error) {
	get := func(names ...string) (string, string) {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return n, v
			}
		}
		return "", ""
	}
	cfg := &httpproxy.Config{CGI: getenv("REQUEST_METHOD") != ""}
	var name string
	for _, set := range []struct {
		dst   *string
		names []string
	}{
		{&cfg.HTTPSProxy, []string{"HTTPS_PROXY", "https_proxy"}},
		{&cfg.HTTPProxy, []string{"HTTP_PROXY", "http_proxy"}},
	} {
		if name, *set.dst = get(set.names...); *set.dst != "" && !proxyParses(*set.dst) {
			return nil, fmt.Errorf("%s is not a proxy URL (want http://[USER:PASSWORD@]HOST:PORT)", name)
		}
	}
	_, cfg.NoProxy = get("NO_PROXY", "no_proxy")
	return cfg, nil
}

// proxyParses reports whether v is a proxy URL httpproxy can use: a URL,
// or host[:port] to which it prefixes http://, with no path.
func proxyParses(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		u, err = url.Parse("http://" + v)
	}
	return err == nil && u.Hostname() != "" && (u.Path == "" || u.Path == "/")
}

func parseProxy(s string) (*url.URL, error) {
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	shown := hideUserinfo(s) // messages never echo the proxy's credentials
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("--proxy %q: want a URL such as http://proxy.corp:3128", shown)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("--proxy %q: only http:// proxies (HTTP CONNECT) are supported, not %s://", shown, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("--proxy %q: a proxy URL has no path", shown)
	}
	return u, nil
}

var userinfoRE = regexp.MustCompile(`[^\s"'/@]+@`)

// hideUserinfo replaces USER:PASSWORD@ in a proxy setting with xxxxx@.
func hideUserinfo(s string) string { return userinfoRE.ReplaceAllString(s, "xxxxx@") }

// loadPool reads a PEM file of certificates into a pool.
func loadPool(flag, path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: certificate %d: %w", flag, path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s %s: no PEM certificate in the file (want -----BEGIN CERTIFICATE----- blocks)", flag, path)
	}
	return pool, nil
}

// colorOK reports whether w is a terminal and NO_COLOR is unset.
func colorOK(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
