package licsrv

import (
	"fmt"
	"strings"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/safetext"
	"github.com/prsim/prsim/wire/kid"
)

// Concurrent streams per account (docs/protocol.md §11): with
// Config.MaxStreamsPerAccount, every secure-stop license issued to an
// account is an open stream until a report with its SECURE_STOP ID
// arrives, or until it is StreamLifetime old (a license that was never
// played, or whose device never reports, cannot block its account for
// ever). A request whose secure-stop licenses would take the account past
// the limit gets DRM_E_SERVER_DEVICE_LIMIT_REACHED.

// StreamLifetime is how long an unreported secure-stop license counts as
// an open stream.
const StreamLifetime = time.Hour

// maxAccountLen bounds an account name.
const maxAccountLen = 128

// maxListedStreams bounds the open streams a fault reason names.
const maxListedStreams = 8

// account returns the account of a request: sub, the "sub" claim of its
// verified entitlement message, when there is one, else the challenge
// CustomData when it is not an entitlement token (trimmed, at most 128
// bytes, printable ASCII). "" = no account: no stream limit applies.
func account(customData, sub string) (string, error) {
	a := sub
	if a == "" && !jwtShape.MatchString(strings.TrimSpace(customData)) {
		a = strings.TrimSpace(customData)
	}
	if len(a) > maxAccountLen || safetext.ASCII(a, maxAccountLen) != a {
		return "", fault(drm.ErrServerInvalidMessage, fmt.Sprintf("account (CustomData or entitlement sub) is not printable ASCII of at most %d bytes", maxAccountLen))
	}
	return a, nil
}

// openStreams takes n new streams for acct, identified by the SECURE_STOP
// IDs ids, if the account's open streams plus n stay within the limit;
// streams older than StreamLifetime are dropped first. Check and record
// are one transaction, so concurrent requests cannot both pass.
func (s *Server) openStreams(acct string, ids [][16]byte, now time.Time) error {
	limit := s.cfg.MaxStreamsPerAccount
	if limit <= 0 || acct == "" || len(ids) == 0 {
		return nil
	}
	prefix := lenPrefixed(acct)
	var refused error
	err := s.db.update(func(tx kvTx) error {
		var open []kid.ID
		var stale [][]byte
		err := tx.each(bktAccount, prefix, func(k, v []byte) error {
			at, ok := bytesUnix(v)
			if !ok || now.Sub(at) >= StreamLifetime {
				stale = append(stale, k)
				return nil
			}
			open = append(open, kid.ID(k[len(prefix):]))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.del(bktAccount, k); err != nil {
				return err
			}
			if err := tx.del(bktStreams, k[len(prefix):]); err != nil {
				return err
			}
		}
		if len(open)+len(ids) > limit {
			refused = streamFault(acct, open, len(ids), limit)
			return nil
		}
		for _, id := range ids {
			if err := tx.put(bktAccount, append(prefix[:len(prefix):len(prefix)], id[:]...), unixBytes(now)); err != nil {
				return err
			}
			if err := tx.put(bktStreams, id[:], []byte(acct)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("licsrv: cannot record open streams: %w", err)
	}
	return refused
}

// streamFault names the account, its open streams (their SECURE_STOP
// IDs) and the limit.
func streamFault(acct string, open []kid.ID, n, limit int) error {
	names := make([]string, 0, min(len(open), maxListedStreams))
	for i, id := range open {
		if i == maxListedStreams {
			names = append(names, fmt.Sprintf("and %d more", len(open)-i))
			break
		}
		names = append(names, id.String())
	}
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	return fault(drm.ErrServerDeviceLimitReached, fmt.Sprintf("account %s has %d open streams (secure-stop licenses not yet reported: %s); "+
		"%d more would pass the limit %d (--max-streams-per-account)", quote(acct), len(open), list, n, limit))
}

// closeStream ends the stream of the license with SECURE_STOP ID pub, if
// one is open.
func closeStream(tx kvTx, pub [16]byte) error {
	acct := tx.get(bktStreams, pub[:])
	if acct == nil {
		return nil
	}
	if err := tx.del(bktStreams, pub[:]); err != nil {
		return err
	}
	return tx.del(bktAccount, append(lenPrefixed(string(acct)), pub[:]...))
}
