package doctor_test

import (
	"net"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/doctor"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
)

// BenchmarkDiagnoseHealthy diagnoses a healthy loopback target end to end:
// look-up, TCP, handshake, chain, three revocation fetches (leaf CRL and
// OCSP, intermediate CRL, all fresh each time: no cache is shared between
// runs) and the clock check over the connection. ns/op is the wall time of
// one Diagnose.
func BenchmarkDiagnoseHealthy(b *testing.B) {
	e := newEnv(b)
	leaf := e.leaf(b, nil)
	addr := testpki.TLSServer(b, testpki.Certs(leaf, e.inter), leaf.Key, nil, time.Time{})
	d, err := doctor.New(e.config())
	if err != nil {
		b.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	tg, err := doctor.ParseTarget(host + ":" + port)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep := d.Diagnose(b.Context(), tg)
		if rep.HasError() || len(rep.Findings) != 3 {
			b.Fatalf("findings = %v, want three revocation.checked", rep.Findings)
		}
	}
}
