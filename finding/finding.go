// Package finding defines the one vocabulary Hallmark uses to say what is
// wrong: the doctor's report, a domain's diagnosis, an issuance result and the
// system log all carry the same Finding. Ids are a contract (DESIGN.md):
// add new ones, never rename.
package finding

import "slices"

// Severity says how bad a finding is. A healthy target has no Error or
// Warning finding.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Finding is one observation with its evidence and the fix.
type Finding struct {
	ID       string         `json:"id"`
	Severity Severity       `json:"severity"`
	Summary  string         `json:"summary"`
	Detail   string         `json:"detail,omitempty"`
	Fix      string         `json:"fix,omitempty"`
	Evidence map[string]any `json:"evidence,omitempty"`
}

// The finding ids of DESIGN.md.
const (
	DNSResolveFailed       = "dns.resolve_failed"
	NetConnectFailed       = "net.connect_failed"
	ProxyConnectFailed     = "proxy.connect_failed"
	TLSHandshakeFailed     = "tls.handshake_failed"
	CertExpired            = "cert.expired"
	CertNotYetValid        = "cert.not_yet_valid"
	ClockSkew              = "clock.skew"
	CertHostnameMismatch   = "cert.hostname_mismatch"
	ChainIncomplete        = "chain.incomplete"
	ChainUntrusted         = "chain.untrusted"
	ChainSelfSigned        = "chain.self_signed"
	TLSIntercepted         = "tls.intercepted"
	PinMismatch            = "pin.mismatch"
	RevocationRevoked      = "revocation.revoked"
	RevocationUnreachable  = "revocation.unreachable"
	RevocationUnavailable  = "revocation.unavailable"
	CertWeakKey            = "cert.weak_key"
	CertWeakSignature      = "cert.weak_signature"
	AllowlistBlocked       = "allowlist.blocked"
	DNSRecordMissing       = "dns.record_missing"
	DNSRecordAtDoubledName = "dns.record_at_doubled_name"
	DNSValueMismatch       = "dns.value_mismatch"
	DNSValueQuoted         = "dns.value_quoted"
	DNSCNAMEWrongTarget    = "dns.cname_wrong_target"
	DNSCNAMEConflict       = "dns.cname_conflict"
	DNSApexCNAME           = "dns.apex_cname"
	DNSPropagationPartial  = "dns.propagation_partial"
	DNSServfail            = "dns.servfail"
	DNSTimeout             = "dns.timeout"
	DNSLameDelegation      = "dns.lame_delegation"
	DNSDNSSECBogus         = "dns.dnssec_bogus"
	CAAForbidsIssuer       = "caa.forbids_issuer"
	ACMERateLimited        = "acme.rate_limited"
	ACMEChallengeFailed    = "acme.challenge_failed"
	ACMEUnreachable        = "acme.unreachable"
)

// Finding ids the trust doctor and package trust add to DESIGN.md's
// vocabulary. All are info: they record what was checked and how.
const (
	// RevocationChecked: a revocation source (stapled OCSP, OCSP, CRL)
	// answered "not revoked".
	RevocationChecked = "revocation.checked"
	// ProxyUsed: the connection went through a proxy, which answered CONNECT.
	ProxyUsed = "proxy.used"
	// ProxyDirect: a proxy is configured in the environment (HTTPS_PROXY)
	// but Go's rules (NO_PROXY, loopback) send this host direct.
	ProxyDirect = "proxy.direct"
	// AllowlistOK: a host:port of the allowlist profile was reached.
	AllowlistOK = "allowlist.ok"
)

// Finding ids of the diagnosis-depth corrections: causes that a strict real
// client reaches, told apart from what a real client gets past.
const (
	// ChainUnusedExpired (warning): the server sends an expired (or not
	// yet valid) certificate beside a valid path that does not need it,
	// such as an old cross-certificate. Path-building clients connect;
	// clients that follow the served chain as sent fail.
	ChainUnusedExpired = "chain.unused_expired"
	// RevocationUnauthorizedSigner: an OCSP response signed by a key that
	// RFC 6960 section 4.2.2.2 does not authorise (neither the issuer nor
	// a responder certificate it issued with id-kp-OCSPSigning). Its
	// severity follows revocation.unreachable: the status is unknown.
	RevocationUnauthorizedSigner = "revocation.unauthorized_signer"
	// TLSClientCertificate: the server asks for a client certificate
	// (mutual TLS). Such hosts must be exempt from TLS inspection; an
	// error when the connection is re-signed on the way.
	TLSClientCertificate = "tls.client_certificate"
	// ClockServerSkew (warning): the server's Date header is off while
	// this machine's clock agrees with the CA's signed times.
	ClockServerSkew = "clock.server_skew"
	// ClockUndetermined (warning): this machine and the server disagree
	// on the time and no third time (OCSP, CRL) decides which is wrong.
	ClockUndetermined = "clock.undetermined"
	// DNSWildcardSynthesized (info): the answer at a name came from a
	// wildcard record (RFC 4592), not from a record at the name.
	DNSWildcardSynthesized = "dns.wildcard_synthesized"
	// DNSCNAMEChain (info): the CNAME points at a name that leads, by
	// more CNAMEs, to the expected target: resolvers reach it.
	DNSCNAMEChain = "dns.cname_chain"

	// The persistent validation record (dns-persist-01,
	// _validation-persist.<name>), in the verification findings and in a
	// failed issuance.
	//
	// DNSPersistMissing: no record at the name (info while the HTTP path
	// is used; an error when the issuance needed it).
	DNSPersistMissing = "dns.persist_record_missing"
	// DNSPersistAtDoubledName: the record sits at NAME.ZONE.ZONE.
	DNSPersistAtDoubledName = "dns.persist_record_at_doubled_name"
	// DNSPersistQuoted: the value carries literal quotes or spaces, or
	// was split into several TXT records.
	DNSPersistQuoted = "dns.persist_value_quoted"
	// DNSPersistMalformed: the value is not an issue-value (RFC 8659).
	DNSPersistMalformed = "dns.persist_value_malformed"
	// DNSPersistIssuerMismatch: the issuer domain is not the CA's.
	DNSPersistIssuerMismatch = "dns.persist_issuer_mismatch"
	// DNSPersistAccountMismatch: accounturi names another account (a
	// staging CA's, an old one).
	DNSPersistAccountMismatch = "dns.persist_account_mismatch"
	// DNSPersistPolicyMissing: a wildcard domain's record lacks
	// policy=wildcard.
	DNSPersistPolicyMissing = "dns.persist_policy_missing"
	// DNSPersistExpired / DNSPersistExpiring: persistUntil is past, or
	// close (renewals would stop).
	DNSPersistExpired  = "dns.persist_expired"
	DNSPersistExpiring = "dns.persist_expiring"
	// CAAForbidsAccount / CAAForbidsMethod: a CAA record of the CA
	// restricts accounturi or validationmethods (RFC 8657) so as to
	// forbid Hallmark's account or dns-persist-01.
	CAAForbidsAccount = "caa.forbids_account"
	CAAForbidsMethod  = "caa.forbids_method"
)

// HasError reports whether any finding has severity Error.
func HasError(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Error })
}

// Healthy reports whether no finding is an Error or a Warning.
func Healthy(fs []Finding) bool {
	return !slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Error || f.Severity == Warning })
}

// IDs returns the ids of fs in order, for logs and tests.
func IDs(fs []Finding) []string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids
}
