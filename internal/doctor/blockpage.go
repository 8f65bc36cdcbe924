package doctor

import (
	"html"
	"net/http"
	"regexp"
	"strings"
)

// blockPage is what a proxy's refusal page says: which product wrote it
// and the reason it gives, so the person who reads the report can take it
// to the right team with the right words.
type blockPage struct {
	Product string // "Squid", "Zscaler", "Netskope", "Palo Alto Networks"; empty when unknown
	Reason  string // the product's own reason (ERR_ACCESS_DENIED, a URL category...)
	Title   string // the page's <title>
}

// blockProducts recognise refusal pages by their headers and their text.
// The markers are the products' default pages (Squid's error templates and
// X-Squid-Error header; Zscaler's "Your organization has selected Zscaler"
// notice; Netskope's block page; PAN-OS's "Web Page Blocked" URL filtering
// response page).
var blockProducts = []struct {
	name   string
	header func(http.Header) bool
	text   []string // lower case; any one marks the product
	fix    string
}{
	{"Squid", func(h http.Header) bool {
		return h.Get("X-Squid-Error") != "" || strings.HasPrefix(strings.ToLower(h.Get("Server")), "squid")
	}, []string{"squid", "err_access_denied"},
		"In squid.conf, allow the destination before the deny rule (acl allowed dstdomain HOST; http_access allow CONNECT allowed), and make sure its port is in SSL_ports"},
	{"Zscaler", func(h http.Header) bool { return strings.Contains(strings.ToLower(h.Get("Server")), "zscaler") },
		[]string{"zscaler"},
		"In the Zscaler admin portal, allow the host in URL & Cloud App Control (or add it to a URL category that is allowed), and add it to the SSL inspection bypass list"},
	{"Netskope", func(h http.Header) bool {
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "x-netskope") {
				return true
			}
		}
		return false
	}, []string{"netskope"},
		"In the Netskope tenant, allow the host in a Real-time Protection policy (or add a steering exception), and exempt it from SSL decryption"},
	{"Palo Alto Networks", func(http.Header) bool { return false },
		[]string{"palo alto networks", "pan-os", "web page blocked"},
		"On the Palo Alto firewall, allow the host in the URL Filtering profile (a custom URL category set to allow) and add it to a No-Decrypt decryption rule"},
}

var (
	titleRE  = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
	reasonRE = regexp.MustCompile(`(?i)\b(?:reason|url category|category|blocked because)\s*:\s*([^\n]{1,120})`)
	squidRE  = regexp.MustCompile(`\bERR_[A-Z_]+\b`)
)

// readBlockPage classifies a refusal from its headers and body.
func readBlockPage(h http.Header, body []byte) blockPage {
	var bp blockPage
	raw := string(body)
	if m := titleRE.FindStringSubmatch(raw); m != nil {
		bp.Title = clean(m[1])
	}
	text := clean(tagRE.ReplaceAllString(strings.NewReplacer("<br>", "\n", "<br/>", "\n", "</p>", "\n", "</tr>", "\n", "</li>", "\n").Replace(raw), "\n"))
	lower := strings.ToLower(text + " " + raw)
	for _, p := range blockProducts {
		if p.header(h) || containsAny(lower, p.text) {
			bp.Product = p.name
			break
		}
	}
	switch {
	case h.Get("X-Squid-Error") != "":
		bp.Reason, _, _ = strings.Cut(h.Get("X-Squid-Error"), " ")
	case bp.Product == "Squid" && squidRE.MatchString(raw):
		bp.Reason = squidRE.FindString(raw)
	default:
		if m := reasonRE.FindStringSubmatch(text); m != nil {
			bp.Reason = strings.TrimSpace(m[1])
		}
	}
	return bp
}

// blockFix is the product's own way of allowing a host, or "".
func blockFix(product string) string {
	for _, p := range blockProducts {
		if p.name == product {
			return p.fix
		}
	}
	return ""
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// clean unescapes HTML and squeezes blanks on each line.
func clean(s string) string {
	s = html.UnescapeString(s)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
