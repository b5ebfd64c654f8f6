package policy_test

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/xmr"
)

// Dates of the boundary tests: begin B, end E = B + 1 day, removal R = E + 1 h.
var (
	begin   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	end     = begin.Add(24 * time.Hour)
	removal = end.Add(time.Hour)
	played  = begin.Add(2 * time.Hour)
)

const window = 3600 // EXPIRATION_AFTER_FIRSTPLAY, seconds

func u32(t time.Time) uint32 { return uint32(t.Unix()) }
func p32(v uint32) *uint32   { return &v }

func expiration(b, e uint32) func(*xmr.Template) {
	return func(tp *xmr.Template) { tp.Expiration = &xmr.Expiration{Begin: b, End: e} }
}

func TestTimeBased(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*xmr.Template)
		want bool
	}{
		{"no time policy", nil, false},
		{"unlimited expiration", expiration(0, xmr.ExpirationUnlimited), false},
		{"begin only", expiration(u32(begin), xmr.ExpirationUnlimited), true},
		{"end only", expiration(0, u32(end)), true},
		{"begin and end", expiration(u32(begin), u32(end)), true},
		{"end 0", expiration(0, 0), true},
		{"first play", func(tp *xmr.Template) { tp.ExpireAfterFirstPlay = p32(window) }, true},
		{"removal date", func(tp *xmr.Template) { tp.RemovalDate = p32(u32(removal)) }, true},
		{"real-time expiration", func(tp *xmr.Template) { tp.RealTimeExpiration = true }, true},
		{"issue date only", func(tp *xmr.Template) { tp.IssueDate = u32(begin) }, false},
		{"first use (v1)", func(tp *xmr.Template) {
			tp.Extra = append(tp.Extra, xmr.NewLeaf(xmr.FlagMustUnderstand, xmr.TypeExpirationAfterFirstUse, []byte{0, 0, 0, 60}))
		}, true},
		{"first store", func(tp *xmr.Template) {
			tp.Extra = append(tp.Extra, xmr.NewLeaf(xmr.FlagMustUnderstand, xmr.TypeExpirationAfterFirstStore, []byte{0, 0, 0, 60}))
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, policy.TimeBased(license(t, tc.mod)))
		})
	}
}

func TestCheckTime(t *testing.T) {
	s := time.Second
	withFirstPlay := func(w uint32) func(*xmr.Template) {
		return func(tp *xmr.Template) { tp.ExpireAfterFirstPlay = p32(w) }
	}
	all := func(tp *xmr.Template) {
		expiration(u32(begin), u32(end))(tp)
		tp.RemovalDate = p32(u32(removal))
		tp.ExpireAfterFirstPlay = p32(window)
		tp.RealTimeExpiration = true
	}
	const (
		ok      = drm.Code(0)
		expired = drm.ErrLicenseExpired
		notYet  = drm.ErrLicenseNotYetValid
		rtExp   = drm.ErrLicenseRealtimeExpired
	)
	tests := []struct {
		name string
		mod  func(*xmr.Template)
		t    policy.Times
		want drm.Code
		at   time.Time // the date crossed
	}{
		{"no time policy, epoch", nil, policy.Times{Now: time.Unix(0, 0)}, ok, time.Time{}},
		{"no time policy, far future", nil, policy.Times{Now: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, ok, time.Time{}},
		{"unlimited, epoch", expiration(0, xmr.ExpirationUnlimited), policy.Times{Now: time.Unix(0, 0)}, ok, time.Time{}},
		{"unlimited, far future", expiration(0, xmr.ExpirationUnlimited), policy.Times{Now: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, ok, time.Time{}},

		{"begin+end: 1 s before begin", expiration(u32(begin), u32(end)), policy.Times{Now: begin.Add(-s)}, notYet, begin},
		{"begin+end: 1 ms before begin", expiration(u32(begin), u32(end)), policy.Times{Now: begin.Add(-time.Millisecond)}, notYet, begin},
		{"begin+end: at begin", expiration(u32(begin), u32(end)), policy.Times{Now: begin}, ok, time.Time{}},
		{"begin+end: 1 s after begin", expiration(u32(begin), u32(end)), policy.Times{Now: begin.Add(s)}, ok, time.Time{}},
		{"begin+end: 1 s before end", expiration(u32(begin), u32(end)), policy.Times{Now: end.Add(-s)}, ok, time.Time{}},
		{"begin+end: 1 ms before end", expiration(u32(begin), u32(end)), policy.Times{Now: end.Add(-time.Millisecond)}, ok, time.Time{}},
		{"begin+end: at end", expiration(u32(begin), u32(end)), policy.Times{Now: end}, expired, end},
		{"begin+end: 1 s after end", expiration(u32(begin), u32(end)), policy.Times{Now: end.Add(s)}, expired, end},

		{"begin only: 1 s before", expiration(u32(begin), xmr.ExpirationUnlimited), policy.Times{Now: begin.Add(-s)}, notYet, begin},
		{"begin only: at begin", expiration(u32(begin), xmr.ExpirationUnlimited), policy.Times{Now: begin}, ok, time.Time{}},
		{"begin only: far future", expiration(u32(begin), xmr.ExpirationUnlimited), policy.Times{Now: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, ok, time.Time{}},

		{"end only: epoch", expiration(0, u32(end)), policy.Times{Now: time.Unix(0, 0)}, ok, time.Time{}},
		{"end only: 1 s before", expiration(0, u32(end)), policy.Times{Now: end.Add(-s)}, ok, time.Time{}},
		{"end only: at end", expiration(0, u32(end)), policy.Times{Now: end}, expired, end},
		{"end only: 1 s after", expiration(0, u32(end)), policy.Times{Now: end.Add(s)}, expired, end},
		{"end before begin: expired wins", expiration(u32(end), u32(begin)), policy.Times{Now: begin}, expired, begin},

		{"removal: 1 s before", func(tp *xmr.Template) { tp.RemovalDate = p32(u32(removal)) }, policy.Times{Now: removal.Add(-s)}, ok, time.Time{}},
		{"removal: at", func(tp *xmr.Template) { tp.RemovalDate = p32(u32(removal)) }, policy.Times{Now: removal}, expired, removal},
		{"removal: 1 s after", func(tp *xmr.Template) { tp.RemovalDate = p32(u32(removal)) }, policy.Times{Now: removal.Add(s)}, expired, removal},

		{"first play: not played, far future", withFirstPlay(window), policy.Times{Now: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, ok, time.Time{}},
		{"first play: at first play", withFirstPlay(window), policy.Times{Now: played, FirstPlay: played}, ok, time.Time{}},
		{"first play: 1 s before the window ends", withFirstPlay(window), policy.Times{Now: played.Add(window*s - s), FirstPlay: played}, ok, time.Time{}},
		{"first play: window ends", withFirstPlay(window), policy.Times{Now: played.Add(window * s), FirstPlay: played}, expired, played.Add(window * s)},
		{"first play: 1 s after the window", withFirstPlay(window), policy.Times{Now: played.Add(window*s + s), FirstPlay: played}, expired, played.Add(window * s)},
		{"first play: window 0", withFirstPlay(0), policy.Times{Now: played, FirstPlay: played}, expired, played},

		{"all: inside", all, policy.Times{Now: played.Add(time.Minute), FirstPlay: played}, ok, time.Time{}},
		{"all: first-play window first", all, policy.Times{Now: played.Add(window * s), FirstPlay: played}, expired, played.Add(window * s)},
		{"all: before begin", all, policy.Times{Now: begin.Add(-s)}, notYet, begin},
		{"all: mid-playback at end", all, policy.Times{Now: end, Playing: true}, rtExp, end},
		{"all: mid-playback, window ends", all, policy.Times{Now: played.Add(window * s), FirstPlay: played, Playing: true}, rtExp, played.Add(window * s)},
		{"all: mid-playback 1 s before end", all, policy.Times{Now: end.Add(-s), Playing: true}, ok, time.Time{}},
		{"zero time, time-based", expiration(0, u32(end)), policy.Times{}, drm.ErrClkNotSet, time.Time{}},
		{"zero time, no time policy", nil, policy.Times{}, ok, time.Time{}},
		{"no real-time expiration: mid-playback is a plain expiry", expiration(u32(begin), u32(end)), policy.Times{Now: end, Playing: true}, expired, end},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := policy.CheckTime(license(t, tc.mod), tc.t)
			if tc.want == ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			var te *policy.TimeError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tc.want, te.Code)
			require.True(t, tc.at.Equal(te.At), "crossed %s, want %s", te.At, tc.at)
			require.True(t, tc.t.Now.Equal(te.Now))
			require.NotEmpty(t, te.Reason)
			require.Contains(t, err.Error(), tc.want.Name())
			if tc.want == drm.ErrClkNotSet {
				require.Equal(t, "policy: no trusted time for a time-based license: DRM_E_CLK_NOT_SET (0x8004C05B)", err.Error())
				return
			}
			require.Contains(t, err.Error(), tc.at.UTC().Format(time.RFC3339))
			require.Contains(t, err.Error(), "device time "+tc.t.Now.UTC().Format(time.RFC3339))
			for _, other := range []drm.Code{expired, notYet, rtExp} {
				if other != tc.want {
					require.False(t, errors.Is(err, other), "also wraps %v", other)
				}
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*xmr.Template)
		firstPlay time.Time
		want      time.Time // zero: no deadline
	}{
		{"no time policy", nil, played, time.Time{}},
		{"unlimited", expiration(0, xmr.ExpirationUnlimited), played, time.Time{}},
		{"begin only", expiration(u32(begin), xmr.ExpirationUnlimited), played, time.Time{}},
		{"real-time only", func(tp *xmr.Template) { tp.RealTimeExpiration = true }, played, time.Time{}},
		{"end", expiration(u32(begin), u32(end)), time.Time{}, end},
		{"removal before end", func(tp *xmr.Template) {
			expiration(0, u32(removal))(tp)
			tp.RemovalDate = p32(u32(end))
		}, time.Time{}, end},
		{"first play, not played", func(tp *xmr.Template) { tp.ExpireAfterFirstPlay = p32(window) }, time.Time{}, time.Time{}},
		{"first play, played", func(tp *xmr.Template) { tp.ExpireAfterFirstPlay = p32(window) }, played, played.Add(window * time.Second)},
		{"first play after end", func(tp *xmr.Template) {
			expiration(u32(begin), u32(end))(tp)
			tp.ExpireAfterFirstPlay = p32(window)
		}, end.Add(-time.Minute), end},
		{"first play before end", func(tp *xmr.Template) {
			expiration(u32(begin), u32(end))(tp)
			tp.ExpireAfterFirstPlay = p32(window)
		}, played, played.Add(window * time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := license(t, tc.mod)
			got, ok := policy.Deadline(l, tc.firstPlay)
			require.Equal(t, !tc.want.IsZero(), ok)
			require.True(t, tc.want.Equal(got), "deadline %s, want %s", got, tc.want)
			if ok { // the deadline is exactly where CheckTime starts refusing
				require.NoError(t, policy.CheckTime(l, policy.Times{Now: got.Add(-time.Second), FirstPlay: tc.firstPlay}))
				require.ErrorIs(t, policy.CheckTime(l, policy.Times{Now: got, FirstPlay: tc.firstPlay}), drm.ErrLicenseExpired)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	fmtp := func(p *time.Time) string {
		if p == nil {
			return "nil"
		}
		return p.Format(time.RFC3339)
	}
	tests := []struct {
		name       string
		mod        func(*xmr.Template)
		begin, end string
	}{
		{"none", nil, "nil", "nil"},
		{"unlimited", expiration(0, xmr.ExpirationUnlimited), "nil", "nil"},
		{"begin only", expiration(u32(begin), xmr.ExpirationUnlimited), "2026-03-01T12:00:00Z", "nil"},
		{"end only", expiration(0, u32(end)), "nil", "2026-03-02T12:00:00Z"},
		{"both", expiration(u32(begin), u32(end)), "2026-03-01T12:00:00Z", "2026-03-02T12:00:00Z"},
		{"removal is not the window", func(tp *xmr.Template) { tp.RemovalDate = p32(u32(removal)) }, "nil", "nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, e := policy.Window(license(t, tc.mod))
			require.Equal(t, tc.begin, fmtp(b))
			require.Equal(t, tc.end, fmtp(e))
		})
	}
}

// FuzzCheckTime feeds licenses (as bytes) and times to the time checks: no
// panic, and CheckTime, Deadline and TimeBased agree. The seeds under
// testdata/fuzz/FuzzCheckTime are licenses with each time object.
func FuzzCheckTime(f *testing.F) {
	if seeds, err := os.ReadDir("testdata/fuzz/FuzzCheckTime"); err != nil || len(seeds) == 0 {
		f.Fatalf("no committed seeds under testdata/fuzz/FuzzCheckTime: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte, now, firstPlay int64, playing bool) {
		l, err := xmr.Parse(data)
		if err != nil {
			return
		}
		tm := policy.Times{Now: time.Unix(now, 0), Playing: playing}
		if firstPlay != 0 {
			tm.FirstPlay = time.Unix(firstPlay, 0)
		}
		err = policy.CheckTime(l, tm)
		if err != nil {
			var te *policy.TimeError
			if !errors.As(err, &te) || (te.Code != drm.ErrLicenseExpired && te.Code != drm.ErrLicenseNotYetValid &&
				te.Code != drm.ErrLicenseRealtimeExpired && te.Code != drm.ErrClkNotSet) || te.Reason == "" {
				t.Fatalf("unexpected error %v", err)
			}
			if !policy.TimeBased(l) {
				t.Fatalf("refused a license with no time-based policy: %v", err)
			}
		}
		if d, ok := policy.Deadline(l, tm.FirstPlay); ok && !tm.Now.Before(d) && err == nil {
			t.Fatalf("usable at %s, past its deadline %s", tm.Now, d)
		}
		b, e := policy.Window(l)
		if b != nil && e != nil && err == nil && (tm.Now.Before(*b) || !tm.Now.Before(*e)) {
			t.Fatalf("usable at %s outside its window", tm.Now)
		}
	})
}

func ExampleCheckTime() {
	tp := &xmr.Template{
		Play:       true,
		Expiration: &xmr.Expiration{Begin: u32(begin), End: u32(end)},
		ContentKey: xmr.ContentKey{KID: testKID, KeyType: xmr.KeyTypeAESCTR, CipherType: xmr.CipherECC256, EncKey: make([]byte, xmr.EncKeySizeECC256)},
	}
	b, _ := tp.Build(make([]byte, 16))
	l, _ := xmr.Parse(b)
	fmt.Println(policy.CheckTime(l, policy.Times{Now: begin}))
	fmt.Println(policy.CheckTime(l, policy.Times{Now: end}))
	// Output:
	// <nil>
	// policy: license expired (EXPIRATION end date) at 2026-03-02T12:00:00Z; device time 2026-03-02T12:00:00Z: DRM_E_LICENSE_EXPIRED (0x8004C009)
}
