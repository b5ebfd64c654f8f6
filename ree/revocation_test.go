package ree_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/fixture"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/revocation"
)

// listsOf signs RevInfo v2 at riv and a runtime CRL at riv with the
// fixture PKI's CRL signer: what the authority serves.
func listsOf(t *testing.T, riv uint32) licsrv.RevocationSource {
	t.Helper()
	s := testFixture().PKI.CRLSigner
	crl := &revocation.CRL{ID: revocation.ListRuntime, Version: riv}
	cb, err := crl.Sign(s.Signer(), s.Chain.Bytes())
	require.NoError(t, err)
	ri := &revocation.RevInfo{RIV: riv, Issued: time.Now().UTC().Truncate(time.Second),
		Lists: []revocation.ListVersion{{ID: revocation.ListRuntime, Version: uint64(riv)}}}
	rb, err := ri.Sign(s.Signer(), s.Chain.Bytes())
	require.NoError(t, err)
	return func() (*licsrv.RevocationLists, error) {
		return &licsrv.RevocationLists{RevInfo: rb, CRLs: [][]byte{cb}}, nil
	}
}

// twoServers answers the first POST with first and every later one with
// then (same PKI and keys, so both sign valid responses), counting POSTs.
func twoServers(t *testing.T, first, then licsrv.Config) (string, *atomic.Int32) {
	t.Helper()
	fx := testFixture()
	a, err := fx.NewServer(first)
	require.NoError(t, err)
	b, err := fx.NewServer(then)
	require.NoError(t, err)
	var posts atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && posts.Add(1) == 1 {
			a.ServeHTTP(w, r)
			return
		}
		b.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/rightsmanager.asmx", &posts
}

// DRM_E_RIV_TOO_SMALL triggers exactly one refresh, then the license
// binds: the first response carries a license needing RIV 2 but no lists
// (a server that forgets them), the refresh (a LICENSEREQUESTED="false"
// acquisition) delivers them, the TEE ingests them, the license binds.
// A server that never delivers them fails after that one refresh.
func TestRIVTooSmallRefreshesOnce(t *testing.T) {
	ctx := context.Background()
	id := kid.MustParse("10000000-1000-1000-1000-1000000000a1")
	for _, c := range []struct {
		name      string
		thenStale bool
	}{{"refresh delivers", false}, {"never delivered", true}} {
		t.Run(c.name, func(t *testing.T) {
			stale := licsrv.Config{Revocation: listsOf(t, 2), Defects: []licsrv.Defect{licsrv.DefectStaleRevInfo}}
			then := licsrv.Config{Revocation: listsOf(t, 2)}
			if c.thenStale {
				then = stale
			}
			laURL, posts := twoServers(t, stale, then)
			d, err := testFixture().NewDevice(filepath.Join(t.TempDir(), "dev"), fixture.Device{SecurityLevel: 2000, Version: "4.5"})
			require.NoError(t, err)
			defer d.Close()
			res, err := d.Client.Acquire(ctx, header(t, laURL, id), "")
			require.NoError(t, err)
			require.Len(t, res, 1)
			require.EqualValues(t, 2, posts.Load(), "the acquisition and exactly one refresh")
			st := d.Client.RevocationStatus()
			if c.thenStale {
				require.ErrorIs(t, res[0].Err, drm.ErrRIVTooSmall)
				require.Contains(t, res[0].Err.Error(), "refresh")
				require.Zero(t, st.RIV)
				return
			}
			require.NoError(t, res[0].Err)
			require.True(t, res[0].Bound)
			require.EqualValues(t, 2, st.RIV)
			for _, l := range st.Lists {
				if l.Name == "runtime" {
					require.EqualValues(t, 2, l.Version)
				}
			}
		})
	}
}

// A device with older lists receives the newer ones in a license
// response: the server sends them because the challenge advertises older
// versions, and the status shows them; a later, older list does not move
// the device back.
func TestNewerListsDelivered(t *testing.T) {
	ctx := context.Background()
	id := kid.MustParse("10000000-1000-1000-1000-1000000000a2")
	fx := testFixture()
	old, err := fx.StartServer(licsrv.Config{Revocation: listsOf(t, 3)})
	require.NoError(t, err)
	defer old.Close()
	d, err := fx.NewDevice(filepath.Join(t.TempDir(), "dev"), fixture.Device{SecurityLevel: 2000, Version: "4.5"})
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Client.Acquire(ctx, header(t, old.LAURL, id), "")
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.EqualValues(t, 3, d.Client.RevocationStatus().RIV)

	older, err := fx.StartServer(licsrv.Config{Revocation: listsOf(t, 1)})
	require.NoError(t, err)
	defer older.Close()
	res, err = d.Client.Acquire(ctx, header(t, older.LAURL, id), "")
	require.NoError(t, err)
	require.NoError(t, res[0].Err, "a license needing RIV 1 binds on a device holding 3")
	require.EqualValues(t, 3, d.Client.RevocationStatus().RIV, "never moves back")
}
