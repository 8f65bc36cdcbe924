package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/finding"
)

// WriteJSON writes the report as DESIGN.md specifies, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// TextOptions shape the human report.
type TextOptions struct {
	// Color turns on ANSI colours; the caller decides (a terminal, and
	// NO_COLOR unset).
	Color bool
}

const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

// WriteText writes the human report: a summary line, each finding with its
// evidence and fix, and the chain drawn leaf first.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	paint := func(code, s string) string {
		if !o.Color {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	count := map[finding.Severity]int{}
	for _, f := range r.Findings {
		count[f.Severity]++
	}
	fmt.Fprintf(&b, "%s %s\n", paint(ansiBold, "Hallmark doctor:"), r.Target)
	fmt.Fprintf(&b, "Checked %s in %d ms.\n\n", r.CheckedAt.Format("2006-01-02 15:04:05 MST"), r.DurationMs)
	switch {
	case count[finding.Error] > 0:
		fmt.Fprintf(&b, "%s %s, %s, %s.\n", paint(ansiRed+ansiBold, "FAIL:"), plural(count[finding.Error], "error"), plural(count[finding.Warning], "warning"), plural(count[finding.Info], "note"))
		fmt.Fprintf(&b, "A strict client (pins, hard-fail revocation) cannot trust this server from here. Fix the errors below.\n")
	case count[finding.Warning] > 0:
		fmt.Fprintf(&b, "%s %s, %s.\n", paint(ansiYellow+ansiBold, "WARN:"), plural(count[finding.Warning], "warning"), plural(count[finding.Info], "note"))
		fmt.Fprintf(&b, "Clients can trust this server, but some will not: see the warnings below.\n")
	default:
		fmt.Fprintf(&b, "%s no problem found (%s).\n", paint(ansiBold, "OK:"), plural(count[finding.Info], "note"))
	}

	for _, f := range r.Findings {
		b.WriteString("\n")
		label := map[finding.Severity]string{finding.Error: paint(ansiRed+ansiBold, "ERROR"), finding.Warning: paint(ansiYellow+ansiBold, "WARNING"), finding.Info: paint(ansiCyan, "note")}[f.Severity]
		fmt.Fprintf(&b, "%s  %s  [%s]\n", label, f.Summary, f.ID)
		if f.Detail != "" {
			writeWrapped(&b, "  why:  ", f.Detail)
		}
		if f.Fix != "" {
			writeWrapped(&b, "  fix:  ", f.Fix)
		}
		if len(f.Evidence) > 0 && f.Severity != finding.Info {
			keys := make([]string, 0, len(f.Evidence))
			for k := range f.Evidence {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b.WriteString("  evidence:\n")
			for _, k := range keys {
				fmt.Fprintf(&b, "    %-16s %s\n", k+":", evidenceValue(f.Evidence[k]))
			}
		}
	}

	if len(r.Chain) > 0 {
		fmt.Fprintf(&b, "\n%s\n", paint(ansiBold, "Chain (leaf first):"))
		for i, c := range r.Chain {
			fmt.Fprintf(&b, "  %d  %s\n", i, c.Subject)
			fmt.Fprintf(&b, "     issuer  %s\n", c.Issuer)
			fmt.Fprintf(&b, "     valid   %s to %s\n", c.NotBefore.Format("2006-01-02 15:04 MST"), c.NotAfter.Format("2006-01-02 15:04 MST"))
			if len(c.DNSNames) > 0 {
				fmt.Fprintf(&b, "     names   %s\n", strings.Join(c.DNSNames, ", "))
			}
			fmt.Fprintf(&b, "     pin     %s\n", c.Pin)
			if i < len(r.Chain)-1 {
				b.WriteString("     |\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func evidenceValue(v any) string {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, ", ")
	default:
		return fmt.Sprint(x)
	}
}

// writeWrapped writes text after prefix, wrapped at about 100 columns and
// indented under the first line.
func writeWrapped(b *strings.Builder, prefix, text string) {
	const width = 100
	indent := strings.Repeat(" ", len(prefix))
	line := prefix
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > width && len(line) > len(prefix) {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(prefix) && line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
}
