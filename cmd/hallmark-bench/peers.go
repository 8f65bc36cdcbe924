//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// server is one process under measurement.
type server struct {
	name string
	addr string // HTTPS
	host string // the name its certificate holds (SNI and Host of requests)
	p    *proc
}

// proc is a process this program started.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it exited
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs name args with its output in dir/<label>.log; it dies with
// this process.
func start(label, dir string, env []string, name string, args ...string) (*proc, error) {
	log, err := os.Create(filepath.Join(dir, label+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", label, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(p.done) }()
	return p, nil
}

// stop ends a process this program started, by its PID: SIGTERM, then
// SIGKILL after 5s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitTLS waits until addr completes a handshake for host.
func waitTLS(ctx context.Context, addr, host string, p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("exited: %v", p.cmd.ProcessState)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no TLS on %s within 30s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	c := http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready within 60s", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startCaddy runs Debian's caddy, when installed, with the one certificate
// and reverse_proxy to the upstream.
func startCaddy(ctx context.Context, dir, certs, upstream string) (*server, error) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		return nil, errNotInstalled
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	home := filepath.Join(dir, "caddy")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	storage file_system %[1]s/data
	servers {
		protocols h1 h2
	}
}
https://%[2]s:%[3]s {
	bind 127.0.0.1
	tls %[4]s/bare.pem %[4]s/bare.key
	reverse_proxy %[5]s
}
`, home, bareName, port, certs, upstream)
	cf := filepath.Join(home, "Caddyfile")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}
	p, err := start("caddy", dir, env, bin, "run", "--config", cf, "--adapter", "caddyfile")
	if err != nil {
		return nil, err
	}
	s := &server{name: "caddy", addr: addr, host: bareName, p: p}
	if err := waitTLS(ctx, addr, bareName, p); err != nil {
		p.stop()
		return nil, fmt.Errorf("caddy: %w (see %s/caddy.log)", err, dir)
	}
	return s, nil
}

// startNginx runs Debian's nginx, when installed: two workers (one per
// core), the one certificate, proxy_pass with keep-alive to the upstream.
func startNginx(ctx context.Context, dir, certs, upstream string) (*server, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/nginx"); err2 != nil {
			return nil, errNotInstalled
		}
		bin = "/usr/sbin/nginx"
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	prefix := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log error;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream app { server %[2]s; keepalive 256; }
	server {
		listen %[3]s ssl http2;
		ssl_certificate %[4]s/bare.pem;
		ssl_certificate_key %[4]s/bare.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		keepalive_requests 1000000;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto https;
			proxy_set_header X-Forwarded-Host $host;
		}
	}
}
`, prefix, upstream, addr, certs)
	cf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	p, err := start("nginx", dir, nil, bin, "-p", prefix, "-c", cf)
	if err != nil {
		return nil, err
	}
	s := &server{name: "nginx", addr: addr, host: bareName, p: p}
	if err := waitTLS(ctx, addr, bareName, p); err != nil {
		p.stop()
		return nil, fmt.Errorf("nginx: %w (see %s/nginx.log)", err, dir)
	}
	return s, nil
}

var errNotInstalled = errors.New("not installed")
