package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// client talks to a Hallmark server's API with an SSWS token.
type client struct {
	server string
	token  string
	http   *http.Client
}

// clientFlags adds --server to cmd and returns a constructor that reads the
// token from HALLMARK_TOKEN.
func clientFlags(cmd *cobra.Command) func() (*client, error) {
	var server string
	cmd.PersistentFlags().StringVar(&server, "server", "http://127.0.0.1:8080", "Hallmark API URL (env HALLMARK_SERVER)")
	return func() (*client, error) {
		if !cmd.Flags().Changed("server") {
			if v := os.Getenv("HALLMARK_SERVER"); v != "" {
				server = v
			}
		}
		u, err := url.Parse(server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError("--server %q: give the API's URL, such as http://127.0.0.1:8080", server)
		}
		tok := os.Getenv("HALLMARK_TOKEN")
		if tok == "" {
			return nil, usageError("set HALLMARK_TOKEN to an API token (the operator token is printed once at first start)")
		}
		return &client{server: strings.TrimRight(server, "/"), token: tok, http: &http.Client{Timeout: 60 * time.Second}}, nil
	}
}

// apiError is Okta's error object as the client reads it.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"errorCode"`
	Summary string `json:"errorSummary"`
	Causes  []struct {
		Summary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, HTTP %d)", strings.TrimSuffix(e.Summary, "."), e.Code, e.Status)
	for _, c := range e.Causes {
		b.WriteString("\n  - " + c.Summary)
	}
	return b.String()
}

// do sends a request and decodes a JSON answer into out (when not nil).
// It returns the response headers for paging.
func (c *client) do(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = c.server + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "SSWS "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading answer: %w", method, target, err)
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, ae) != nil || ae.Code == "" {
			return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, target, resp.StatusCode, strings.TrimSpace(string(data)))
		}
		return nil, ae
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: decoding answer: %w", method, target, err)
		}
	}
	return resp.Header, nil
}

// nextLink returns the URL of the Link header line with rel="next".
func nextLink(h http.Header) string {
	for _, line := range h.Values("Link") {
		for _, part := range strings.Split(line, ",") {
			if !strings.Contains(part, `rel="next"`) {
				continue
			}
			if i, j := strings.Index(part, "<"), strings.Index(part, ">"); i >= 0 && j > i {
				return part[i+1 : j]
			}
		}
	}
	return ""
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
