package trust_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hallmark-dev/hallmark/trust"
)

// A client that trusts its own roots, pins the server's key and refuses a
// server whose revocation status cannot be learned.
func ExampleVerifier_TLSConfig() {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	v, err := trust.New(trust.Config{
		Roots:      roots,
		Pins:       []string{trust.Pin(srv.Certificate())},
		Revocation: trust.RevocationHardFail,
	})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: v.TLSConfig(nil)}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello
}

// A refused server is explained by findings: here the pin belongs to another
// key, as when a TLS inspection proxy re-signs the connection.
func ExampleError() {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	v, err := trust.New(trust.Config{
		Roots: roots,
		Pins:  []string{"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
	})
	if err != nil {
		log.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), v.TLSConfig(&tls.Config{ServerName: "example.com"}))
	if err == nil {
		conn.Close()
	}
	var te *trust.Error
	if errors.As(err, &te) {
		for _, f := range te.Findings {
			fmt.Printf("%s (%s): %s\n", f.ID, f.Severity, f.Summary)
		}
	}
	// Output: pin.mismatch (error): No certificate in the chain matches the expected pins
}

// Verify can also be called on certificates obtained elsewhere, here a
// self-signed one.
func ExampleVerifier_Verify() {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	v, err := trust.New(trust.Config{Roots: x509.NewCertPool()})
	if err != nil {
		log.Fatal(err)
	}
	res, err := v.Verify(context.Background(), "example.com", []*x509.Certificate{srv.Certificate()}, nil)
	fmt.Println(err != nil)
	for _, f := range res.Findings {
		fmt.Println(f.ID)
	}
	// Output:
	// true
	// chain.self_signed
}

func ExampleParsePin() {
	pin, err := trust.ParsePin(`pin-sha256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="`)
	fmt.Println(pin, err)
	_, err = trust.ParsePin("sha256/not-a-pin")
	fmt.Println(err != nil)
	// Output:
	// sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= <nil>
	// true
}
