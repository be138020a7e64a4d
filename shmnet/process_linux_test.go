package shmnet_test

// Cross-process tests: a server process and client processes, all this
// test binary (see main_linux_test.go), talking net/http or raw bytes over
// shmnet.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/shmnet"
)

func init() {
	helpers["http-server"] = httpServer
	helpers["http-client"] = httpClient
	helpers["http-hold"] = httpHold
	helpers["raw-writer"] = rawWriter
	helpers["raw-server"] = rawServer
}

// httpClientFor returns an http.Client whose connections are shmnet
// connections to the listener at path, whatever the URL's host.
func httpClientFor(path string, keepAlive bool) *http.Client {
	return httpClientOver("shm", path, keepAlive)
}

// httpClientOver is httpClientFor over network "shm" or "unix".
func httpClientOver(network, path string, keepAlive bool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if network == "unix" {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			}
			return shmnet.Dial(ctx, path)
		},
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 4,
	}}
}

// serverState is what the http-server helper counts.
type serverState struct {
	mu    sync.Mutex
	seen  map[string]int // "client:seq" of /echo requests: how many times each came
	total int
}

// httpServer serves HTTP on a shmnet listener at path=: /echo answers its
// query, /tally says how many /echo requests came and how many twice,
// /fds how many descriptors and memfd mappings the process has, /stream
// streams until the client goes, /upload reads until the client goes. It
// reports opened= and closed= as connections come and go.
func httpServer(a args) int {
	var ln net.Listener
	var err error
	if a["net"] == "unix" {
		ln, err = net.Listen("unix", a["path"])
	} else {
		ln, err = shmnet.Listen(a["path"])
	}
	if err != nil {
		report("listen-error", strings.ReplaceAll(err.Error(), "\n", " "))
		return failf("listen: %v", err)
	}
	st := &serverState{seen: map[string]int{}}
	var opened, closed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("c") + ":" + r.URL.Query().Get("s")
		st.mu.Lock()
		st.seen[key]++
		st.total++
		st.mu.Unlock()
		_, _ = io.WriteString(w, key)
	})
	mux.HandleFunc("/tally", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		twice := 0
		for _, n := range st.seen {
			if n != 1 {
				twice++
			}
		}
		fmt.Fprintf(w, "total=%d distinct=%d repeated=%d", st.total, len(st.seen), twice)
	})
	mux.HandleFunc("/fds", func(w http.ResponseWriter, r *http.Request) {
		fds, maps, err := processResources()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "fds=%d maps=%d", fds, maps)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	srv := &http.Server{Handler: mux, ConnState: func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			report("opened", opened.Add(1))
		case http.StateClosed, http.StateHijacked:
			report("closed", closed.Add(1))
		}
	}}
	report("listening", 1)
	err = srv.Serve(ln)
	return failf("serve: %v", err)
}

// processResources counts this process's open descriptors and its
// mappings of memfd rings.
func processResources() (fds, maps int, err error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, 0, err
	}
	return len(ents) - 1, strings.Count(string(b), "/memfd:shmring"), nil
}

// httpClient makes n= /echo requests as client id= on keep-alive
// connections to path= (over net=unix if it says so), c= at a time, and
// checks each answer.
func httpClient(a args) int {
	client := httpClientOver(a["net"], a["path"], true)
	id, n, conc := a["id"], a.int("n", 100), a.int("c", 1)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s := next.Add(1) - 1
				if s >= int64(n) {
					return
				}
				resp, err := client.Get(fmt.Sprintf("http://shm/echo?c=%s&s=%d", id, s))
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf("%s:%d", id, s); err != nil || string(body) != want {
					errs <- fmt.Errorf("request %d: %q, %v; want %q", s, body, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return failf("client %s: %v", id, err)
	}
	report("done", n)
	return 0
}

// httpHold starts a request to path= and stays in the middle of it until
// killed: mode=stream reads part of an endless response, mode=upload
// sends part of a body the server is reading.
func httpHold(a args) int {
	client := httpClientFor(a["path"], false)
	switch a["mode"] {
	case "stream":
		resp, err := client.Get("http://shm/stream")
		if err != nil {
			return failf("get: %v", err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
			return failf("read: %v", err)
		}
	case "upload":
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", "http://shm/upload", pr)
		req.ContentLength = 1 << 30
		go func() { _, _ = client.Do(req) }()
		if _, err := pw.Write(make([]byte, 256<<10)); err != nil { // taken by the transport: on its way
			return failf("write: %v", err)
		}
	default:
		return failf("mode=%q", a["mode"])
	}
	report("inflight", 1)
	select {}
}

// rawWriter dials path=, writes n= bytes and waits to be killed.
func rawWriter(a args) int {
	c, err := shmnet.Dial(context.Background(), a["path"])
	if err != nil {
		return failf("dial: %v", err)
	}
	n := a.int("n", 0)
	if _, err := c.Write(pattern(n)); err != nil {
		return failf("write: %v", err)
	}
	report("wrote", n)
	select {}
}

// rawServer listens at path=, accepts one connection and waits to be
// killed.
func rawServer(a args) int {
	ln, err := shmnet.Listen(a["path"])
	if err != nil {
		return failf("listen: %v", err)
	}
	report("listening", 1)
	c, err := ln.Accept()
	if err != nil {
		return failf("accept: %v", err)
	}
	defer c.Close()
	report("accepted", 1)
	select {}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// get fetches path over a fresh connection and returns the key=value
// fields of its body.
func get(t *testing.T, sock, path string) map[string]int {
	t.Helper()
	resp, err := httpClientFor(sock, false).Get("http://shm" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	out := map[string]int{}
	for _, f := range strings.Fields(string(body)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		out[k], err = strconv.Atoi(v)
		require.NoError(t, err, string(body))
	}
	return out
}

// quiet waits until every connection the server opened is closed again
// (it reports both counts as they change).
func quiet(srv *child) {
	srv.t.Helper()
	opened := srv.awaitInt("opened", nil)
	srv.awaitInt("closed", func(n int) bool { return n >= opened })
}

// TestHTTPManyClients: many client processes make requests at once to one
// server process over net/http on shmnet; every request is answered
// correctly (each client checks), and the server saw each exactly once.
func TestHTTPManyClients(t *testing.T) {
	clients, perClient := 16, 500
	if testing.Short() {
		perClient = 100
	}
	ctx := testContext(t)
	for _, network := range []string{"shm", "unix"} {
		if network == "unix" && !*compareUnix {
			continue
		}
		path := filepath.Join(t.TempDir(), "http.sock")
		srv := startChild(t, ctx, "http-server", "path="+path, "net="+network)
		srv.await("listening", nil)
		start := time.Now()
		kids := make([]*child, clients)
		for i := range kids {
			kids[i] = startChild(t, ctx, "http-client", "path="+path, "net="+network, "id=c"+strconv.Itoa(i), "n="+strconv.Itoa(perClient), "c=2")
		}
		for _, k := range kids {
			k.wait()
		}
		elapsed := time.Since(start)
		want := clients * perClient
		t.Logf("%s: %d client processes x %d requests (2 connections each) in %v (%.0f requests/s, with process start-up)",
			network, clients, perClient, elapsed.Round(time.Millisecond), float64(want)/elapsed.Seconds())
		if network == "unix" {
			continue
		}
		tally := get(t, path, "/tally")
		assert.Equal(t, want, tally["total"], "requests the server handled")
		assert.Equal(t, want, tally["distinct"], "distinct requests")
		assert.Zero(t, tally["repeated"], "requests handled more than once")
		t.Logf("%d requests answered exactly once", tally["distinct"])
	}
}

// compareUnix runs TestHTTPManyClients over a unix socket too, for a
// figure to compare with (-args -unix).
var compareUnix = flag.Bool("unix", false, "TestHTTPManyClients: run the same load over a unix socket as well, for comparison")

// TestHTTPClientKilled: clients killed in the middle of a request (the
// server writing a response, or reading a body) leave the server serving
// the others, and the server frees their rings: its descriptors and
// memfd mappings come back to what they were.
func TestHTTPClientKilled(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "http.sock")
	srv := startChild(t, ctx, "http-server", "path="+path)
	srv.await("listening", nil)
	get(t, path, "/echo?c=warm&s=0") // the server's lazily made state
	quiet(srv)
	base := get(t, path, "/fds")
	quiet(srv)

	steady := startChild(t, ctx, "http-client", "path="+path, "id=steady", "n=300")
	for _, mode := range []string{"stream", "upload"} {
		for i := range 3 {
			h := startChild(t, ctx, "http-hold", "path="+path, "mode="+mode)
			h.await("inflight", nil)
			if i == 0 {
				during := get(t, path, "/fds")
				assert.Greater(t, during["maps"], base["maps"], "a connection in flight has rings mapped")
			}
			h.kill()
		}
	}
	steady.wait()
	quiet(srv)
	after := get(t, path, "/fds")
	assert.Equal(t, base["maps"], after["maps"], "the server's ring mappings after its clients died")
	// A leak would be three descriptors per dead client (its socket and two
	// memfds); the ring's liveness checks hold a pidfd for a moment, which
	// a count may catch.
	assert.InDelta(t, base["fds"], after["fds"], 2, "the server's descriptors after its clients died")
	tally := get(t, path, "/tally")
	assert.Equal(t, 301, tally["total"])
	t.Logf("server resources before: %v, after 6 clients killed mid-request: %v", base, after)
}

// TestServerRestart: a server killed leaves its socket file behind; a new
// server on the same path replaces it and serves; a third one, while the
// second lives, is refused and leaves it serving.
func TestServerRestart(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "http.sock")
	first := startChild(t, ctx, "http-server", "path="+path)
	first.await("listening", nil)
	get(t, path, "/echo?c=a&s=1")
	first.kill()
	_, err := os.Lstat(path)
	require.NoError(t, err, "the dead server's socket file is still there")
	_, err = shmnet.Dial(ctx, path)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	second := startChild(t, ctx, "http-server", "path="+path)
	second.await("listening", nil)
	startChild(t, ctx, "http-client", "path="+path, "id=b", "n=50").wait()

	third := startChild(t, ctx, "http-server", "path="+path)
	msg := third.await("listen-error", nil)
	assert.Contains(t, msg, "a live server is listening there")
	<-third.done
	startChild(t, ctx, "http-client", "path="+path, "id=c", "n=50").wait()
	assert.Equal(t, 100, get(t, path, "/tally")["total"], "the second server served both clients")
}

// acceptOne listens at a fresh path and returns it with a channel that
// gets the first connection accepted.
func acceptOne(t *testing.T) (string, <-chan *shmnet.Conn) {
	t.Helper()
	ln := listen(t, &shmnet.ListenConfig{})
	ch := make(chan *shmnet.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		ch <- c.(*shmnet.Conn)
	}()
	return ln.Addr().String(), ch
}

// TestPeerKilled: a peer process killed with SIGKILL ends the connection
// through its socket: what it wrote before is read, then io.EOF; a Read
// waiting for it returns; a Write waiting for it to read fails with
// EPIPE. Never a hang. And the survivor's Close frees everything.
func TestPeerKilled(t *testing.T) {
	ctx := testContext(t)

	t.Run("data written before death is read, then EOF", func(t *testing.T) {
		path, accepted := acceptOne(t)
		before := openFDs(t)
		w := startChild(t, ctx, "raw-writer", "path="+path, "n=300000")
		w.await("wrote", nil)
		c := <-accepted
		w.kill()
		got, err := io.ReadAll(c)
		require.NoError(t, err, "Read after the peer died: its data, then io.EOF")
		assert.Equal(t, pattern(300000)[:len(got)], got)
		assert.Len(t, got, 300000)
		require.NoError(t, c.Close())
		assert.Equal(t, before, openFDs(t), "descriptors after the dead peer's connection was closed")
	})

	t.Run("waiting Read", func(t *testing.T) {
		path, accepted := acceptOne(t)
		w := startChild(t, ctx, "raw-writer", "path="+path, "n=0")
		w.await("wrote", nil)
		c := <-accepted
		ch := waitingRead(c)
		require.True(t, blocked(ch))
		w.kill()
		assert.Equal(t, io.EOF, <-ch)
	})

	t.Run("waiting Write", func(t *testing.T) {
		path, accepted := acceptOne(t)
		w := startChild(t, ctx, "raw-writer", "path="+path, "n=0")
		w.await("wrote", nil)
		c := <-accepted
		fill(t, c)
		ch := make(chan error, 1)
		go func() {
			_, err := c.Write(make([]byte, 1<<20))
			ch <- err
		}()
		require.True(t, blocked(ch))
		w.kill()
		err := <-ch
		assert.ErrorIs(t, err, syscall.EPIPE)
	})

	t.Run("listener killed under a waiting dialer", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s")
		s := startChild(t, ctx, "raw-server", "path="+path)
		s.await("listening", nil)
		c, err := shmnet.Dial(ctx, path)
		require.NoError(t, err)
		defer c.Close()
		s.await("accepted", nil)
		ch := waitingRead(c)
		require.True(t, blocked(ch))
		s.kill()
		err = <-ch
		assert.Equal(t, io.EOF, err)
		_, err = c.Write([]byte("x"))
		assert.ErrorIs(t, err, syscall.EPIPE)
	})
}
