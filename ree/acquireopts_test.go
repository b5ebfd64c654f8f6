package ree_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/entitlement"
)

// An entitlement message travels in the header the option names, and the
// server issues the entitled key; CustomData reaches the challenge.
func TestAcquireWithEntitlement(t *testing.T) {
	commKey := bytes.Repeat([]byte{7}, 32)
	var got []string
	e := newEnvCfg(t, licsrv.Config{CommKeys: map[string][]byte{"k1": commKey}}, func(s http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				got = append(got, r.Header.Get(entitlement.Header))
			}
			s.ServeHTTP(w, r)
		})
	})
	laURL := e.laURL
	d := e.device(t, 2000, "soft")

	ck, err := keyseed.Derive(keyseed.TestSeed(), videoKID)
	require.NoError(t, err)
	msg := fmt.Sprintf(`{"type":"entitlement_message","version":2,"content_keys_source":{"inline":[{"id":%q,"key":%q,"usage_policy":"p"}]},`+
		`"content_key_usage_policies":[{"name":"p","playready":{"min_device_security_level":2000,"uncompressed_digital_video_opl":300}}]}`,
		videoKID.String(), base64.StdEncoding.EncodeToString(ck[:]))
	tok, err := entitlement.Sign([]byte(msg), "k1", commKey, time.Now(), time.Minute)
	require.NoError(t, err)

	res, err := d.Client.Acquire(context.Background(), header(t, laURL, videoKID), "", ree.WithHeader(entitlement.Header, tok))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.True(t, res[0].Bound, "%v", res[0].Err)
	require.Equal(t, []string{tok}, got)

	// The same token in CustomData works too; a wrong one there is refused.
	res, err = d.Client.Acquire(context.Background(), header(t, laURL, videoKID), "", ree.WithCustomData(tok))
	require.NoError(t, err)
	require.Len(t, res, 1)
	_, err = d.Client.Acquire(context.Background(), header(t, laURL, videoKID), "", ree.WithCustomData(tok[:len(tok)-4]+"AAAA"))
	require.ErrorIs(t, err, drm.ErrServerInvalidMessage)
	require.NotContains(t, err.Error(), tok[:20])
	require.Equal(t, "", got[len(got)-1], "no header without the option")
}
