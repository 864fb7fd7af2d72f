package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeEngine answers the two calls Connect makes, the way dockerd 20.10
// (API 1.41) does.
func fakeEngine() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/version"):
			w.Write([]byte(`{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12"}`))
		default:
			http.NotFound(w, r)
		}
	})
}

type pki struct {
	dir        string
	caPool     *x509.CertPool
	serverCert tls.Certificate
}

// newPKI writes ca.pem, cert.pem and key.pem (a client certificate) to a
// directory, the layout DOCKER_CERT_PATH expects, and returns a server
// certificate for 127.0.0.1 signed by the same CA.
func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, ip net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		if ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	writePEM := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePEM("ca.pem", "CERTIFICATE", caDER)
	clientDER, clientKey := issue(2, x509.ExtKeyUsageClientAuth, nil)
	writePEM("cert.pem", "CERTIFICATE", clientDER)
	kb, _ := x509.MarshalECPrivateKey(clientKey)
	writePEM("key.pem", "EC PRIVATE KEY", kb)
	serverDER, serverKey := issue(3, x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{dir: dir, caPool: pool, serverCert: tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}}
}

func TestConnectTCPWithMutualTLS(t *testing.T) {
	p := newPKI(t)
	srv := httptest.NewUnstartedServer(fakeEngine())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.caPool}
	srv.StartTLS()
	defer srv.Close()
	url := "tcp://" + srv.Listener.Addr().String()

	c, err := Connect(context.Background(), Endpoint{Host: "web-1", URL: url, TLSCert: p.dir, TLSVerify: true})
	if err != nil {
		t.Fatalf("Connect with verified mutual TLS: %v", err)
	}
	defer c.Close()
	if c.APIVersion != "1.41" || c.ServerVersion != "20.10.24" {
		t.Errorf("negotiated API %q, server %q; want 1.41 and 20.10.24", c.APIVersion, c.ServerVersion)
	}

	// Without a client certificate the engine refuses us: an error naming
	// the host and the endpoint, not a hang.
	_, err = Connect(context.Background(), Endpoint{Host: "web-1", URL: url})
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "host web-1") || !strings.Contains(err.Error(), url) {
		t.Errorf("plain HTTP to a TLS engine: %v", err)
	}

	// A missing certificate directory names itself and the fix.
	_, err = Connect(context.Background(), Endpoint{Host: "web-1", URL: url, TLSCert: filepath.Join(p.dir, "nope"), TLSVerify: true})
	if err == nil || !strings.Contains(err.Error(), "DOCKER_CERT_PATH") {
		t.Errorf("missing certs: %v", err)
	}
}

func TestConnectRejectsUntrustedServer(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t) // a server certificate from a CA we do not trust
	srv := httptest.NewUnstartedServer(fakeEngine())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{other.serverCert}}
	srv.StartTLS()
	defer srv.Close()
	_, err := Connect(context.Background(), Endpoint{Host: "h", URL: "tcp://" + srv.Listener.Addr().String(), TLSCert: p.dir, TLSVerify: true})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server certificate accepted, or unclear error: %v", err)
	}
}

// An engine that accepts the connection and never answers must not hang
// berth: Connect gives up within its timeout with a clear error.
func TestConnectSilentEngineTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = Connect(context.Background(), Endpoint{Host: "slow", URL: "tcp://" + ln.Addr().String()})
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("silent engine: %v", err)
	}
	if d := time.Since(start); d > pingTimeout+2*time.Second {
		t.Errorf("took %s to give up", d)
	}
}

func TestConnectRejectsUnknownScheme(t *testing.T) {
	_, err := Connect(context.Background(), Endpoint{Host: "h", URL: "ftp://x"})
	if err == nil || !strings.Contains(err.Error(), "unix:///path or tcp://host:port") {
		t.Errorf("ftp endpoint: %v", err)
	}
}
