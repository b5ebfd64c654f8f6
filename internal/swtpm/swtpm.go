// Package swtpm runs swtpm, the software TPM 2.0 daemon, as a child process
// on a state directory. prsim's "swtpm:DIR" key backend and the tests use
// this one launcher (docs/swtpm.md).
//
// The daemon listens on Unix sockets in a private temporary directory (mode
// 0700), so no other local user can send it TPM commands and no port can be
// taken by someone else between choosing and binding it. [Options.TCP]
// selects loopback TCP ports instead, for tests that stand in for an swtpm
// the user started.
//
// One state directory serves one swtpm at a time: [Start] takes an exclusive
// lock on the directory and waits for it, so a process that reopens
// swtpm:DIR right after another one closed it finds the state flushed.
// [Process.Stop] asks swtpm to shut down over its control channel
// (CMD_SHUTDOWN) and waits for it to exit before releasing the lock. On
// Linux a swtpm whose parent dies gets SIGTERM, so a killed prsim leaves no
// daemon holding the directory.
//
// # Security considerations
//
// The state directory holds the TPM's seeds (files mode 0600, directory
// 0700): anyone who can read it can load every key blob made under it.
package swtpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Errors.
var (
	// ErrNotInstalled means no swtpm binary was found.
	ErrNotInstalled = errors.New("swtpm: swtpm is not installed (Debian: apt-get install swtpm swtpm-tools)")
	// ErrBusy means another swtpm kept the state directory locked for the
	// whole wait.
	ErrBusy = errors.New("swtpm: state directory is in use by another swtpm")
)

// Defaults for [Options].
const (
	DefaultLockWait  = 30 * time.Second
	DefaultStartWait = 10 * time.Second
)

// Control-channel commands (swtpm's ptm interface, man swtpm-ioctl).
const (
	cmdInit     = 2 // CMD_INIT: _TPM_Init, a power cycle of the TPM
	cmdShutdown = 3
)

// maxSocketPath keeps a Unix socket path under sun_path's 108 bytes.
const maxSocketPath = 100

// Options configure [Start].
type Options struct {
	// StateDir is swtpm's --tpmstate directory; created (0700) if missing.
	StateDir string
	// TCP listens on two free loopback ports (data, data+1 control)
	// instead of Unix sockets.
	TCP bool
	// Bin is the swtpm binary; "" looks up "swtpm" on PATH.
	Bin string
	// LockWait bounds the wait for another swtpm to release StateDir;
	// 0 means DefaultLockWait.
	LockWait time.Duration
	// StartWait bounds the wait for swtpm to accept connections; 0 means
	// DefaultStartWait.
	StartWait time.Duration
	// ManualStartup leaves TPM2_Startup to the client, which can then
	// choose Startup(STATE) to resume a TPM shut down with
	// Shutdown(STATE). By default swtpm sends Startup(CLEAR) itself.
	ManualStartup bool
}

// Process is a running swtpm. Stop it when done.
type Process struct {
	cmd       *exec.Cmd
	network   string // "unix" or "tcp"
	addr      string // data channel
	ctrl      string // control channel
	sockDir   string // private socket directory, "" for TCP
	lock      *os.File
	stderr    *tailBuffer
	exited    chan struct{}
	waitErr   error
	stopOnce  sync.Once
	stopError error
}

// Start launches swtpm on o.StateDir and returns once it accepts
// connections.
func Start(o Options) (*Process, error) {
	if o.StateDir == "" {
		return nil, errors.New("swtpm: no state directory")
	}
	bin := o.Bin
	if bin == "" {
		bin = "swtpm"
	}
	bin, err := exec.LookPath(bin)
	if err != nil {
		return nil, ErrNotInstalled
	}
	if o.LockWait <= 0 {
		o.LockWait = DefaultLockWait
	}
	if o.StartWait <= 0 {
		o.StartWait = DefaultStartWait
	}
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("swtpm: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("swtpm: failed to create state directory: %w", err)
	}
	lock, err := lockDir(dir, o.LockWait)
	if err != nil {
		return nil, err
	}
	// A port pair chosen free can be taken before swtpm binds it: retry
	// with another pair. Unix sockets in a fresh directory cannot clash.
	for attempt := 0; ; attempt++ {
		p, err := launch(bin, dir, o, lock)
		if err == nil {
			p.lock = lock
			return p, nil
		}
		if !o.TCP || attempt == 4 || !errors.Is(err, errExitedEarly) {
			unlockDir(lock)
			return nil, err
		}
	}
}

var errExitedEarly = errors.New("swtpm: exited before accepting connections")

func launch(bin, dir string, o Options, lock *os.File) (*Process, error) {
	p := &Process{stderr: &tailBuffer{max: 2048}, exited: make(chan struct{})}
	var server, ctrl string
	if !o.TCP {
		sd, err := os.MkdirTemp("", "prsim-swtpm-")
		if err != nil {
			return nil, fmt.Errorf("swtpm: %w", err)
		}
		if len(filepath.Join(sd, "ctrl")) > maxSocketPath {
			os.RemoveAll(sd)
			o.TCP = true
		} else {
			p.network, p.sockDir = "unix", sd
			p.addr, p.ctrl = filepath.Join(sd, "data"), filepath.Join(sd, "ctrl")
			server = "type=unixio,path=" + p.addr + ",mode=0600"
			ctrl = "type=unixio,path=" + p.ctrl + ",mode=0600"
		}
	}
	if o.TCP {
		port, err := freePortPair()
		if err != nil {
			return nil, err
		}
		p.network = "tcp"
		p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p.ctrl = net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))
		server = "type=tcp,port=" + strconv.Itoa(port) + ",bindaddr=127.0.0.1"
		ctrl = "type=tcp,port=" + strconv.Itoa(port+1) + ",bindaddr=127.0.0.1"
	}
	// not-need-init: swtpm runs _TPM_Init itself, so no CMD_INIT is
	// needed before the first command.
	flags := "not-need-init"
	if !o.ManualStartup {
		flags += ",startup-clear"
	}
	p.cmd = exec.Command(bin, "socket", "--tpm2",
		"--tpmstate", "dir="+dir+",mode=0600",
		"--server", server, "--ctrl", ctrl,
		"--flags", flags)
	p.cmd.Stderr = p.stderr
	// swtpm inherits the directory lock, so it stays held until swtpm has
	// exited: after a kill -9 of its owner, swtpm is still saving its state
	// (and holding its own lock file) when the next Start would begin.
	if lock != nil {
		p.cmd.ExtraFiles = []*os.File{lock}
	}
	setParentDeathSignal(p.cmd)
	if err := p.cmd.Start(); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("swtpm: failed to start: %w", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(o.StartWait)
	for {
		c, err := net.DialTimeout(p.network, p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			p.cleanup()
			return nil, fmt.Errorf("%w (%v): %s", errExitedEarly, p.waitErr, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			p.cleanup()
			return nil, fmt.Errorf("swtpm: not accepting connections after %v: %s", o.StartWait, p.stderr.String())
		}
	}
}

// Network and Addr name the data channel for [net.Dial]: ("unix", PATH) or
// ("tcp", "127.0.0.1:PORT").
func (p *Process) Network() string { return p.network }

// Addr is the data channel's address; see [Process.Network].
func (p *Process) Addr() string { return p.addr }

// Dial connects to the data channel.
func (p *Process) Dial() (net.Conn, error) {
	c, err := net.DialTimeout(p.network, p.addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("swtpm: failed to connect: %w", err)
	}
	return c, nil
}

// Stop shuts swtpm down and waits for it to exit: CMD_SHUTDOWN on the
// control channel (swtpm saves its state and exits), then SIGTERM, then
// SIGKILL if it hangs. Only then is the state directory unlocked. Stop is
// idempotent.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		p.stopError = p.stop()
		p.cleanup()
		unlockDir(p.lock)
	})
	return p.stopError
}

func (p *Process) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("swtpm: exited unexpectedly (%v): %s", p.waitErr, p.stderr.String())
	default:
	}
	if err := p.shutdown(); err == nil && p.waitExit(5*time.Second) {
		return nil
	}
	_ = p.cmd.Process.Signal(sigterm)
	if p.waitExit(2 * time.Second) {
		return nil
	}
	p.kill()
	return errors.New("swtpm: did not shut down; killed")
}

// Init power-cycles the TPM: CMD_INIT (_TPM_Init) on the control channel.
// swtpm keeps its data connection; the client must then send
// TPM2_Startup. Without a TPM2_Shutdown first, this is a non-orderly power
// loss.
func (p *Process) Init() error {
	// CMD_INIT carries a u32 flags word (0: keep the volatile state file).
	if err := p.control(binary.BigEndian.AppendUint32([]byte{0, 0, 0, cmdInit}, 0), "CMD_INIT"); err != nil {
		return fmt.Errorf("swtpm: %w", err)
	}
	return nil
}

// Terminate sends swtpm SIGTERM, as the kernel does when prsim is killed
// (see [Start]): swtpm exits without a TPM2_Shutdown having been sent, a
// non-orderly power loss for the TPM. It waits for swtpm to exit and
// unlocks the state directory. For tests.
func (p *Process) Terminate() {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(sigterm)
			if !p.waitExit(5 * time.Second) {
				p.kill()
			}
		}
		p.cleanup()
		unlockDir(p.lock)
	})
}

// shutdown sends CMD_SHUTDOWN.
func (p *Process) shutdown() error {
	return p.control(binary.BigEndian.AppendUint32(nil, cmdShutdown), "CMD_SHUTDOWN")
}

// control sends one control-channel command (a big-endian u32 code and its
// parameters), answered by a big-endian u32 result (0 = success).
func (p *Process) control(cmd []byte, name string) error {
	c, err := net.DialTimeout(p.network, p.ctrl, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(cmd); err != nil {
		return err
	}
	var res [4]byte
	if _, err := io.ReadFull(c, res[:]); err != nil {
		return err
	}
	if r := binary.BigEndian.Uint32(res[:]); r != 0 {
		return fmt.Errorf("%s failed with 0x%x", name, r)
	}
	return nil
}

func (p *Process) waitExit(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *Process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *Process) cleanup() {
	if p.sockDir != "" {
		os.RemoveAll(p.sockDir)
	}
}

// freePortPair finds a loopback port p with p+1 also free (swtpm's control
// port).
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("swtpm: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("swtpm: no free loopback port pair")
}

// tailBuffer keeps the last max bytes written: swtpm's diagnostics for
// error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(bytes.TrimSpace(t.b))
	if s == "" {
		return "no diagnostics"
	}
	return s
}
