package console

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

// statusView is a domain's state in words: a short status for the line
// under the domain's name, a sentence that says what happens next, and a
// kind for its colour (ok, wait, action, bad).
type statusView struct {
	Words  string `json:"words"`
	Detail string `json:"detail"`
	Kind   string `json:"kind"`
}

// statusOf says where d stands, from its stored state and the findings of
// the latest check (fs; checked is false when no check has run yet).
func statusOf(d customdomain.Domain, fs []finding.Finding, checked bool) statusView {
	cause := ""
	if f := firstError(fs); f != nil {
		cause = causeOf(*f)
	}
	switch {
	case !d.MovedSince.IsZero():
		return statusView{"Moved away", "The name no longer points to Hallmark: its CNAME was removed or changed. Point it back, or delete the domain here.", "bad"}
	case d.Status == customdomain.Completed:
		v := statusView{"Live over HTTPS", "Ownership is proven and Hallmark serves the certificate.", "ok"}
		if d.CertSource == customdomain.Manual {
			v.Detail += " You uploaded it: upload a new one before it expires."
		} else {
			v.Detail += " It is renewed automatically."
		}
		if cause != "" {
			v.Detail += " But: " + cause + "; see below."
		}
		return v
	case d.Ready():
		// Okta's status stays VERIFIED; the words say what is left.
		return statusView{"Certificate ready", "Ownership is proven and Hallmark already serves the certificate, obtained through the persistent record: " +
			customdomain.ReadyDetail + ". Nothing breaks at the switch; this page says when traffic arrives.", "action"}
	case d.Status == customdomain.Verified:
		v := statusView{Words: "Verified", Kind: "ok"}
		switch {
		case cause != "":
			v.Detail = "Ownership is proven, but " + cause + "; see below."
		case d.CertSource == customdomain.Manual:
			v.Detail = "Ownership is proven. Upload your certificate below to go live over HTTPS."
		default:
			v.Detail = "Ownership is proven. Hallmark is obtaining a certificate; this page says when it is live."
		}
		return v
	case d.Status == customdomain.FailedToVerify:
		return statusView{"Failed: checks stopped", "The verification window closed without proof. Fix the records, then press Verify now to check again.", "bad"}
	}
	// Not proven yet: the latest check decides what to say.
	if f := firstError(fs); f != nil && f.ID != finding.DNSRecordMissing {
		return statusView{"Action needed: " + cause, "Fix it at your DNS host as described below; Hallmark keeps checking.", "action"}
	}
	switch {
	case !checked || firstError(fs) != nil:
		return statusView{"Waiting for DNS", "Publish the records below at your DNS host. Hallmark checks them in the background; this page updates by itself.", "wait"}
	case hasSeverity(fs, finding.Warning):
		return statusView{"Waiting for DNS", "Some DNS servers do not have the records yet. This can take a while; this page updates by itself.", "wait"}
	}
	return statusView{"Records found", "Every record checks out. Hallmark marks the domain verified at its next check, or press Verify now.", "wait"}
}

func firstError(fs []finding.Finding) *finding.Finding {
	for i := range fs {
		if fs[i].Severity == finding.Error {
			return &fs[i]
		}
	}
	return nil
}

func hasSeverity(fs []finding.Finding, sev finding.Severity) bool {
	for _, f := range fs {
		if f.Severity == sev {
			return true
		}
	}
	return false
}

// causeOf is a finding's cause in a few plain words, to follow "Action
// needed:".
func causeOf(f finding.Finding) string {
	typ := fmt.Sprint(f.Evidence["type"])
	if typ == "" || typ == "<nil>" {
		typ = "DNS"
	}
	switch f.ID {
	case finding.DNSRecordAtDoubledName:
		return "the " + typ + " record is at the wrong name"
	case finding.DNSRecordMissing:
		return "the " + typ + " record is missing"
	case finding.DNSValueQuoted:
		return "the TXT value has extra quotes"
	case finding.DNSValueMismatch:
		return "the TXT record has another value"
	case finding.DNSCNAMEWrongTarget:
		return "the CNAME points somewhere else"
	case finding.DNSCNAMEConflict:
		return "other records block the CNAME"
	case finding.DNSApexCNAME:
		return "the name is a zone apex, which cannot hold a CNAME"
	case finding.CAAForbidsIssuer:
		return "a CAA record forbids the certificate authority"
	case finding.DNSServfail, finding.DNSTimeout, finding.DNSLameDelegation, finding.DNSResolveFailed:
		return "the DNS servers do not answer properly"
	case finding.DNSDNSSECBogus:
		return "DNSSEC validation fails"
	case finding.ACMERateLimited, finding.ACMEChallengeFailed, finding.ACMEUnreachable:
		return "the certificate could not be obtained yet"
	}
	if strings.HasPrefix(f.ID, "cert.") || strings.HasPrefix(f.ID, "chain.") {
		return "the certificate has a problem"
	}
	return "a problem was found"
}

// markView is one record's state in the latest check: ✓, ✗ or, before
// the first check, a neutral "not published yet".
type markView struct {
	Sign string `json:"sign"` // ✓, ✗, or "" for neutral
	Note string `json:"note"`
	Kind string `json:"kind"` // ok, bad, wait
}

// markOf judges rec by the findings of the latest check: a finding about
// the record's name and type (or, for CAA, any CAA finding) is its ✗.
func markOf(rec customdomain.Record, fs []finding.Finding, checked, everChecked bool) markView {
	if !checked {
		return markView{Note: "not published yet", Kind: "wait"}
	}
	var worst *finding.Finding
	for i, f := range fs {
		if f.Severity != finding.Error && f.Severity != finding.Warning {
			continue
		}
		about := bare(fmt.Sprint(f.Evidence["name"])) == bare(rec.FQDN) && strings.EqualFold(fmt.Sprint(f.Evidence["type"]), rec.Type)
		if rec.Type == "CAA" {
			about = strings.HasPrefix(f.ID, "caa.")
		}
		if about && (worst == nil || f.Severity == finding.Error) {
			worst = &fs[i]
		}
	}
	switch {
	case worst == nil:
		return markView{Sign: "✓", Note: "published", Kind: "ok"}
	case worst.ID == finding.DNSRecordMissing && !everChecked:
		return markView{Note: "not published yet", Kind: "wait"}
	case worst.ID == finding.DNSPropagationPartial:
		return markView{Sign: "✗", Note: "not on every DNS server yet", Kind: "wait"}
	case worst.ID == finding.DNSRecordMissing:
		return markView{Sign: "✗", Note: "not found", Kind: "bad"}
	case worst.ID == finding.DNSRecordAtDoubledName:
		return markView{Sign: "✗", Note: "at the wrong name", Kind: "bad"}
	case worst.ID == finding.DNSValueQuoted:
		return markView{Sign: "✗", Note: "value has extra quotes", Kind: "bad"}
	case worst.ID == finding.DNSValueMismatch, worst.ID == finding.DNSCNAMEWrongTarget:
		return markView{Sign: "✗", Note: "wrong value", Kind: "bad"}
	case worst.ID == finding.DNSCNAMEConflict:
		return markView{Sign: "✗", Note: "blocked by other records", Kind: "bad"}
	}
	return markView{Sign: "✗", Note: causeOf(*worst), Kind: "bad"}
}

// statusWords names a status without the rest of the domain (the org
// page's list): the words of statusOf without a check at hand.
func statusWords(s customdomain.Status) string {
	switch s {
	case customdomain.NotStarted:
		return "Not checked yet"
	case customdomain.InProgress:
		return "Waiting for DNS"
	case customdomain.Verified:
		return "Verified"
	case customdomain.Completed:
		return "Live over HTTPS"
	case customdomain.FailedToVerify:
		return "Failed: checks stopped"
	}
	return "Unknown"
}

// sevWords names a finding's severity for a person.
func sevWords(s finding.Severity) string {
	switch s {
	case finding.Error:
		return "Problem"
	case finding.Warning:
		return "Warning"
	}
	return "Note"
}

// copyView is what a finding's copy button copies, and its label.
type copyView struct{ Text, Label string }

// copyOf is what to copy to follow a finding's fix: the value to enter
// when the finding names one, else the fix itself. Nil without a fix.
func copyOf(f finding.Finding) *copyView {
	if f.Fix == "" {
		return nil
	}
	if v, ok := f.Evidence["expected"].(string); ok && v != "" {
		return &copyView{Text: v, Label: "Copy the value " + v}
	}
	return &copyView{Text: f.Fix, Label: "Copy the fix"}
}

// show writes one evidence value: a list as its items, anything else as
// text.
func show(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, ", ")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return strings.Join(parts, ", ")
	case map[string]any, map[string][]string:
		b, err := json.Marshal(x)
		if err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}
