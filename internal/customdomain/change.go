package customdomain

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// Change is one unit of change of a domain: everything one step of the
// lifecycle decides, committed by the store in one transaction or not at
// all. The rules (lifecycle.go) build it from the domain, what was observed
// and the time; the store (ApplyDomain, InsertDomain) commits it.
type Change struct {
	// Domain is the domain as it is to be stored.
	Domain Domain
	// Delete removes the domain (and, with DropCert, its certificate).
	Delete bool
	// Cert, when set, becomes the name's certificate record: what the edge
	// serves and what publicCertificate describes.
	Cert *issuance.Record
	// DropCert deletes the name's certificate record.
	DropCert bool
	// Events are the system log events of the change, prepared
	// (systemlog.Prepare) and stored in the same transaction.
	Events []systemlog.Event
	// Served are the names whose served certificate changes; each gets an
	// outbox entry, from which every edge invalidates its cache.
	Served []string
	// Release ends the domain's lease: the background work it was claimed
	// for is done.
	Release bool
}

// ErrLeaseLost: a worker's claim on a domain ran out or was taken over
// before it stored its result; the result is dropped and the domain's
// newer state stands.
var ErrLeaseLost = errors.New("the claim on the domain ran out or was taken over")

// errNoChange: the rules found nothing to store.
var errNoChange = errors.New("nothing to change")
