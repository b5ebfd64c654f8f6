package licsrv

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// newHTTPServer is the one place the server's http.Server is built: every
// caller (prsim server, the demo, tests) serves through [Server.Serve], so
// all get the same timeouts and connection cap.
func (s *Server) newHTTPServer() *http.Server {
	l := s.cfg.Limits
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         s.conns.connState,
	}
	if s.defects[DefectNoTimeouts] {
		hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout = 0, 0, 0, 0
	}
	return hs
}

// Serve accepts HTTP connections on ln and serves them until [Server.Shutdown]
// or [Server.Close], with the [Limits] timeouts and connection cap. It may
// be called for several listeners; the cap is shared. It returns
// http.ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(s.conns.wrap(ln))
}

// Shutdown stops accepting, closes idle connections and waits for active
// requests to end, or for ctx (see http.Server.Shutdown); then it closes
// the state database (DataDir/securestop.db).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	return errors.Join(err, s.closeDB())
}

// Close closes the listeners and every connection at once, and the state
// database.
func (s *Server) Close() error { return errors.Join(s.http.Close(), s.closeDB()) }

// closeDB closes the state database once; a request still running gets
// an internal-error fault.
func (s *Server) closeDB() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.close() })
	return s.closeErr
}

// connLimiter caps open connections across listeners. A slot is taken after
// a connection is accepted and given back when it closes; at the cap the
// longest-idle keep-alive connection is closed to make room (so hoarded idle
// connections never lock out new clients), and otherwise the accept loop
// waits, leaving further clients in the kernel backlog. At most one
// connection over the cap is ever open: the one waiting for a slot.
type connLimiter struct {
	slots chan struct{}
	// idleSignal wakes a waiting Accept when a connection goes idle.
	idleSignal chan struct{}

	mu   sync.Mutex
	seq  uint64
	idle map[*limitedConn]uint64 // idle connections, by when they went idle
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{slots: make(chan struct{}, max), idleSignal: make(chan struct{}, 1), idle: map[*limitedConn]uint64{}}
}

func (l *connLimiter) wrap(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, lim: l, done: make(chan struct{})}
}

// connState tracks idle connections (http.Server.ConnState).
func (l *connLimiter) connState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateIdle {
		l.seq++
		l.idle[lc] = l.seq
		select {
		case l.idleSignal <- struct{}{}:
		default:
		}
		return
	}
	delete(l.idle, lc)
}

// evictIdle closes the longest-idle connection; false if none is idle.
// Like http.Server's own idle timeout, it may race with a request the
// client has just sent on that connection.
func (l *connLimiter) evictIdle() bool {
	l.mu.Lock()
	var oldest *limitedConn
	for c, at := range l.idle {
		if oldest == nil || at < l.idle[oldest] {
			oldest = c
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	_ = oldest.Close()
	return true
}

type limitedListener struct {
	net.Listener
	lim      *connLimiter
	done     chan struct{}
	doneOnce sync.Once
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		select {
		case ln.lim.slots <- struct{}{}:
			return &limitedConn{Conn: c, lim: ln.lim}, nil
		default:
		}
		if ln.lim.evictIdle() {
			continue // its slot comes back when the close completes
		}
		select {
		case ln.lim.slots <- struct{}{}:
			return &limitedConn{Conn: c, lim: ln.lim}, nil
		case <-ln.lim.idleSignal:
		case <-ln.done:
			_ = c.Close()
			return nil, net.ErrClosed
		}
	}
}

func (ln *limitedListener) Close() error {
	ln.doneOnce.Do(func() { close(ln.done) })
	return ln.Listener.Close()
}

// limitedConn gives its slot back on the first Close.
type limitedConn struct {
	net.Conn
	lim  *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.lim.mu.Lock()
		delete(c.lim.idle, c)
		c.lim.mu.Unlock()
		<-c.lim.slots
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
