package ree_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/ree"
)

// recorded collects what a Recorder receives.
type recorded struct {
	mu    sync.Mutex
	kinds []string
}

func (r *recorded) Record(kind string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds = append(r.kinds, kind)
}

// TestSetRecorder: a recorder set on an opened device's client receives
// every challenge, response and fault, and nil stops recording.
func TestSetRecorder(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	ctx := context.Background()
	var r recorded
	d.Client.SetRecorder(&r)
	_, err := d.Client.Acquire(ctx, header(t, e.laURL, videoKID), "")
	require.NoError(t, err)
	_, err = d.Client.Acquire(ctx, header(t, e.laURL, videoKID), e.laURL+"?cfg=(errorcode:0x8004C600)")
	require.ErrorIs(t, err, drm.ErrServerInternalError)
	require.Equal(t, []string{"challenge", "response", "challenge", "fault"}, r.kinds)

	d.Client.SetRecorder(nil)
	_, err = d.Client.Acquire(ctx, header(t, e.laURL, videoKID), "")
	require.NoError(t, err)
	require.Len(t, r.kinds, 4, "nothing recorded after SetRecorder(nil)")

	// With an ExchangeDir, the files are the messages.
	x, err := ree.NewExchangeDir(filepath.Join(t.TempDir(), "ex"))
	require.NoError(t, err)
	d.Client.SetRecorder(x)
	_, err = d.Client.Acquire(ctx, header(t, e.laURL, videoKID), "")
	require.NoError(t, err)
	require.Equal(t, []string{"001-challenge.xml", "002-response.xml"}, x.Files())
	require.NoError(t, x.Err())
}

// TestTransportErrorsHideTheURL: a license URL's query may carry secrets
// (cfg contentkey); a transport failure names the cause, not the URL.
func TestTransportErrorsHideTheURL(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, 2000, "soft")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	const secret = "contentkey:ZZZZsecretZZZZ"
	_, err = d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), "http://"+addr+"/x?cfg=("+secret+")")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "ZZZZsecret")
	require.Contains(t, err.Error(), "refused")

	// A non-http URL is named by its fault only.
	_, err = d.Client.Acquire(context.Background(), header(t, e.laURL, videoKID), "ftp://h/x?cfg=("+secret+")")
	require.ErrorIs(t, err, drm.ErrSOAPXMLDataNotFound)
	require.NotContains(t, err.Error(), "ZZZZsecret")
	_, err = d.Client.Acquire(context.Background(), header(t, "", videoKID), "")
	require.ErrorIs(t, err, drm.ErrSOAPXMLDataNotFound)
	require.Contains(t, err.Error(), "LA_URL")
}

// TestOpenDeviceErrors: a missing device names its directory and matches
// ErrNoDevice; a corrupt device.json names the file.
func TestOpenDeviceErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nodev")
	_, err := ree.OpenDevice(dir)
	require.ErrorIs(t, err, ree.ErrNoDevice)
	var nd *ree.NoDeviceError
	require.True(t, errors.As(err, &nd))
	require.Equal(t, dir, nd.Dir)
	require.Contains(t, err.Error(), dir)

	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "device.json"), []byte("{"), 0o600))
	_, err = ree.OpenDevice(dir)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), filepath.Join(dir, "device.json")), err.Error())
	require.NotErrorIs(t, err, ree.ErrNoDevice)
}
