package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// domainJSON is Okta's DomainResponse plus Hallmark's diagnosis and
// verification schedule.
type domainJSON struct {
	ID                    string            `json:"id"`
	Domain                string            `json:"domain"`
	CertificateSourceType string            `json:"certificateSourceType"`
	ValidationStatus      string            `json:"validationStatus"`
	DNSRecords            []recordJSON      `json:"dnsRecords"`
	PublicCertificate     *certificateJSON  `json:"publicCertificate,omitempty"`
	BrandID               string            `json:"brandId"`
	Links                 domainLinksJSON   `json:"_links"`
	Diagnosis             []finding.Finding `json:"diagnosis"`
	Verification          verificationJSON  `json:"verification"`
	// MovedSince is set while the name no longer points here.
	MovedSince string `json:"movedSince,omitempty"`
	// Renewal is the managed certificate's renewal plan.
	Renewal *renewalJSON `json:"renewal,omitempty"`
	// StatusDetail says more than validationStatus (Okta's enum, kept):
	// "certificate ready: point the CNAME to switch traffic" while the
	// certificate is served ahead of the CNAME.
	StatusDetail string `json:"statusDetail,omitempty"`
	// CertificateReady: the certificate is issued and served by SNI while
	// the CNAME does not lead here yet (validationStatus VERIFIED).
	CertificateReady bool `json:"certificateReady,omitempty"`
	// CertificateChallenge is how the CA validated the current
	// certificate (http-01, tls-alpn-01, dns-persist-01; absent for the
	// built-in CA and uploads), and CertificateChallengeReason why.
	CertificateChallenge       string `json:"certificateChallenge,omitempty"`
	CertificateChallengeReason string `json:"certificateChallengeReason,omitempty"`
}

// renewalJSON says when a managed certificate renews, and how the last
// attempts went.
type renewalJSON struct {
	RenewAt       string `json:"renewAt,omitempty"`
	Attempts      int    `json:"failedAttempts"`
	NextAttemptAt string `json:"nextAttemptAt,omitempty"`
}

type recordJSON struct {
	RecordType string   `json:"recordType"`
	FQDN       string   `json:"fqdn"`
	Values     []string `json:"values"`
	Expiration string   `json:"expiration,omitempty"`
}

type certificateJSON struct {
	Subject     string `json:"subject"`
	Fingerprint string `json:"fingerprint"`
	Expiration  string `json:"expiration"`
}

// domainLinksJSON are a domain's links, in the order a map's keys would
// be encoded (sorted), without building a map for every domain of a page.
type domainLinksJSON struct {
	Brand       linkJSON  `json:"brand"`
	Certificate *linkJSON `json:"certificate,omitempty"`
	Self        linkJSON  `json:"self"`
	Verify      linkJSON  `json:"verify"`
}

// The methods links allow, shared by every response (never modified).
var (
	allowGet          = hintsJSON{Allow: []string{"GET"}}
	allowPost         = hintsJSON{Allow: []string{"POST"}}
	allowPut          = hintsJSON{Allow: []string{"PUT"}}
	allowGetPutDelete = hintsJSON{Allow: []string{"GET", "PUT", "DELETE"}}
)

type linkJSON struct {
	Href  string    `json:"href"`
	Hints hintsJSON `json:"hints"`
}

type hintsJSON struct {
	Allow []string `json:"allow"`
}

// verificationJSON tells when the domain was and will be checked.
type verificationJSON struct {
	LastCheckedAt string `json:"lastCheckedAt,omitempty"`
	NextCheckAt   string `json:"nextCheckAt,omitempty"`
	WindowEndsAt  string `json:"windowEndsAt,omitempty"`
	VerifiedAt    string `json:"verifiedAt,omitempty"`
	Attempts      int    `json:"attempts"`
}

// oktaLayout is how Okta writes times: 2021-11-23T02:04:28.000Z.
const oktaLayout = "2006-01-02T15:04:05.000Z"

// oktaTime formats t in oktaLayout; "" for the zero time. The digits are
// written directly (a page of domains formats a thousand times), as
// Format writes them: milliseconds truncated, years 0 to 9999.
func oktaTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(oktaLayout)
	}
	hour, minute, sec := t.Clock()
	b := [len(oktaLayout)]byte{
		byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-', byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':', byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
	}
	ms := t.Nanosecond() / 1e6
	b[20], b[21], b[22], b[23] = byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z'
	return string(b[:])
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) domainJSON(r *http.Request, d customdomain.Domain) domainJSON {
	return s.domainJSONAt(baseURL(r), d)
}

// domainJSONAt renders d with links under base (baseURL of the request),
// computed once for a page of domains.
func (s *Server) domainJSONAt(base string, d customdomain.Domain) domainJSON {
	// One string holds the self link and the verify link after it: a
	// page renders hundreds of domains.
	verify := base + "/api/v1/domains/" + d.ID + "/verify"
	self := verify[:len(verify)-len("/verify")]
	out := domainJSON{
		ID: d.ID, Domain: d.Name, CertificateSourceType: string(d.CertSource),
		ValidationStatus: string(d.Status), BrandID: d.BrandID,
		Diagnosis: d.Diagnosis,
		Links: domainLinksJSON{
			Self:   linkJSON{Href: self, Hints: allowGetPutDelete},
			Verify: linkJSON{Href: verify, Hints: allowPost},
			Brand:  linkJSON{Href: base + "/api/v1/brands/" + d.BrandID, Hints: allowGet},
		},
		Verification: verificationJSON{
			LastCheckedAt: oktaTime(d.LastChecked),
			NextCheckAt:   oktaTime(d.NextCheck),
			VerifiedAt:    oktaTime(d.VerifiedAt),
			Attempts:      d.Attempts,
		},
	}
	var windowEnd time.Time
	if !d.Status.Proven() {
		windowEnd = d.WindowStart.Add(s.verifyWindow)
		out.Verification.WindowEndsAt = oktaTime(windowEnd)
	} else {
		out.Links.Certificate = &linkJSON{Href: self + "/certificate", Hints: allowPut}
	}
	if out.Diagnosis == nil {
		out.Diagnosis = []finding.Finding{}
	}
	if d.Cert.Has() {
		// What the edge serves: the domain records the certificate it
		// stored, and the edge reads that same record.
		out.PublicCertificate = &certificateJSON{Subject: d.Cert.Subject, Fingerprint: d.Cert.Fingerprint, Expiration: oktaTime(d.Cert.NotAfter)}
	}
	out.MovedSince = oktaTime(d.MovedSince)
	if d.Ready() {
		out.CertificateReady, out.StatusDetail = true, customdomain.ReadyDetail
	}
	out.CertificateChallenge, out.CertificateChallengeReason = string(d.Cert.Challenge), d.Cert.ChallengeReason
	if d.CertSource == customdomain.Managed && (d.Cert.Has() || d.IssueAttempts > 0) {
		out.Renewal = &renewalJSON{RenewAt: oktaTime(d.Cert.RenewAt), Attempts: d.IssueAttempts, NextAttemptAt: oktaTime(d.IssueRetryAt)}
	}
	recs := s.domains.Records(d)
	out.DNSRecords = make([]recordJSON, 0, len(recs))
	for _, rec := range recs {
		exp := out.Verification.WindowEndsAt // the ownership record's, most often
		if !rec.Expiration.Equal(windowEnd) || rec.Expiration.IsZero() != windowEnd.IsZero() {
			exp = oktaTime(rec.Expiration)
		}
		out.DNSRecords = append(out.DNSRecords, recordJSON{
			RecordType: rec.Type, FQDN: rec.FQDN, Values: rec.Values, Expiration: exp,
		})
	}
	return out
}

type createDomainRequest struct {
	Domain                string `json:"domain"`
	CertificateSourceType string `json:"certificateSourceType"`
}

func (s *Server) createDomain(w http.ResponseWriter, r *http.Request) error {
	var req createDomainRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	var causes []string
	if req.Domain == "" {
		causes = append(causes, "domain: required; give the host name, such as login.example.com")
	}
	src, err := customdomain.ParseCertSource(req.CertificateSourceType)
	switch {
	case strings.TrimSpace(req.CertificateSourceType) == "":
		causes = append(causes, "certificateSourceType: required; one of MANUAL, OKTA_MANAGED")
	case err != nil:
		causes = append(causes, err.Error())
	}
	if len(causes) > 0 {
		return errValidation(causes...)
	}
	d, err := s.domains.Create(r.Context(), actorFrom(r.Context()), req.Domain, src)
	if err != nil {
		return err
	}
	// 200, not 201: Okta's published spec lists 200 for createCustomDomain
	// (its own .NET tests saw a live org answer 201; clients accept both).
	writeJSON(w, http.StatusOK, s.domainJSON(r, d))
	return nil
}

// listPageSize bounds one page of the domain list.
const listPageSize = 200

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := listPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > listPageSize {
			return errValidation("limit: must be an integer from 1 to " + strconv.Itoa(listPageSize))
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && !oktaid.Valid("dom", after) {
		return errValidation("after: not a domain id; use the link in the Link rel=\"next\" header")
	}
	ds, err := s.domains.ListViews(r.Context(), actorFrom(r.Context()), after, limit+1)
	if err != nil {
		return err
	}
	more := len(ds) > limit
	if more {
		ds = ds[:limit]
	}
	w.Header().Add("Link", `<`+baseURL(r)+r.URL.Path+`?limit=`+strconv.Itoa(limit)+`>; rel="self"`)
	if more {
		w.Header().Add("Link", `<`+baseURL(r)+r.URL.Path+`?limit=`+strconv.Itoa(limit)+`&after=`+ds[len(ds)-1].ID+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, domainPage{s: s, base: baseURL(r), ds: ds})
	return nil
}

func (s *Server) getDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := s.domains.Get(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.domainJSON(r, d))
	return nil
}

type updateDomainRequest struct {
	BrandID string `json:"brandId"`
}

func (s *Server) updateDomain(w http.ResponseWriter, r *http.Request) error {
	a := actorFrom(r.Context())
	// Unknown ids answer 404 before the body is judged, as Okta does.
	if _, err := s.domains.Get(r.Context(), a, r.PathValue("id")); err != nil {
		return err
	}
	var req updateDomainRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	d, err := s.domains.SetBrand(r.Context(), a, r.PathValue("id"), req.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.domainJSON(r, d))
	return nil
}

// deleteDomain is Okta's 204 with no body. The records the tenant should
// now remove (the persistent validation record, which would otherwise let
// Hallmark's account go on validating the name) come in
// Hallmark-Remove-Record headers, one per record: "TXT <fqdn> <value>".
func (s *Server) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	a := actorFrom(r.Context())
	d, err := s.domains.Get(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.domains.Delete(r.Context(), a, d.ID); err != nil {
		return err
	}
	for _, rec := range s.domains.RecordsToRemove(d) {
		w.Header().Add(RemoveRecordHeader, rec.Type+" "+rec.FQDN+" "+strings.Join(rec.Values, ""))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// AccountKeyRolloverEvent is the system log event of a key rollover.
const AccountKeyRolloverEvent = "system.acme_account.key_rollover"

// RemoveRecordHeader names a record to delete from DNS after a domain's
// deletion.
const RemoveRecordHeader = "Hallmark-Remove-Record"

// rolloverAccountKey replaces the ACME account's key (RFC 8555 §7.3.5):
// the account URL stays, so every published persistent record stays
// valid. The new key is sealed at rest and never returned.
func (s *Server) rolloverAccountKey(w http.ResponseWriter, r *http.Request) error {
	if s.account == nil {
		return errValidation("no ACME account: this server issues with its built-in CA (--acme-directory selects an ACME CA)")
	}
	url, err := s.account.Rollover(r.Context())
	if errors.Is(err, issuance.ErrNoAccount) {
		return errValidation("no ACME account: this server issues with its built-in CA (--acme-directory selects an ACME CA)")
	}
	if err != nil {
		var ie *issuance.Error
		if errors.As(err, &ie) {
			return errs.New(errs.Unavailable, "", "the CA refused or could not be reached for the key rollover: "+strings.Join(finding.IDs(ie.Findings), ", "))
		}
		return err
	}
	if s.log != nil {
		a := actorFrom(r.Context())
		if _, err := s.log.Append(r.Context(), systemlog.Event{
			EventType: AccountKeyRolloverEvent, Severity: "INFO",
			DisplayMessage: "ACME account key rolled over; the account URL, and so every persistent validation record, is unchanged",
			Actor:          systemlog.Actor{ID: a.ID, Type: "PublicClientApp", DisplayName: a.Name},
			Target:         []systemlog.Target{{ID: url, Type: "AcmeAccount", AlternateID: url, DisplayName: url}},
			Outcome:        systemlog.Outcome{Result: "SUCCESS"},
		}); err != nil {
			s.logger.Warn("recording the key rollover", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"accountUrl": url, "rolledOverAt": oktaTime(time.Now())})
	return nil
}

// verifyDomain checks the records now. It always answers 200 with the
// domain; the status and diagnosis in the body say how it went.
func (s *Server) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	d, _, err := s.domains.Verify(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.domainJSON(r, d))
	return nil
}

// uploadCertificate is Okta's PUT /api/v1/domains/{id}/certificate:
// E0000165 before ownership is proven, E0000001 with one cause per problem
// of the upload, 204 when the certificate is stored and served. The body
// is read only after the domain is known to accept one.
func (s *Server) uploadCertificate(w http.ResponseWriter, r *http.Request) error {
	a := actorFrom(r.Context())
	d, err := s.domains.Get(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !d.Status.Proven() {
		return customdomain.ErrNotVerified
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apiError(http.StatusUnsupportedMediaType, "E0000001", "Api validation failed",
				fmt.Sprintf("Content-Type %q is not supported; send application/json", ct))
		}
	}
	u, err := issuance.DecodeUpload(http.MaxBytesReader(w, r.Body, issuance.MaxUploadBytes+1))
	if err != nil {
		return err
	}
	if _, err := s.domains.Upload(r.Context(), a, d.ID, u); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// caRootPEM serves the built-in CA's root, or Okta's 404 when an ACME CA
// issues the certificates.
func (s *Server) caRootPEM(w http.ResponseWriter, r *http.Request) error {
	if len(s.caRoot) == 0 {
		return errNotFound("no built-in CA: certificates come from the ACME CA configured with --acme-directory")
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="hallmark-root.pem"`)
	w.Write(s.caRoot)
	return nil
}
