package ree

import (
	"context"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
)

// SendResult is what [Client.SendSecureStops] did: how many stopped
// sessions the challenge carried, how many the server's verified
// acknowledgement named (the TEE deleted those), and how many stopped
// sessions still wait to be sent.
type SendResult struct {
	Sent         int `json:"sent"`
	Acknowledged int `json:"acknowledged"`
	Pending      int `json:"pending"`
}

// SecureStopSessions lists the secure-stop sessions the TEE keeps: active
// ones (a key is playing) and stopped ones waiting to be sent, oldest
// first (docs/protocol.md §11).
func (c *Client) SecureStopSessions() []tee.SecureStopSession {
	return c.cfg.Device.SecureStopSessions()
}

// PendingSecureStops counts the stopped sessions waiting to be sent.
func (c *Client) PendingSecureStops() int {
	n := 0
	for _, s := range c.cfg.Device.SecureStopSessions() {
		if !s.Active {
			n++
		}
	}
	return n
}

// SendSecureStops sends every stopped secure-stop session to the license
// server at serverURL (ProcessSecureStopData, docs/protocol.md §11): the
// TEE builds and signs the challenge, the REE posts it, and the TEE
// verifies the acknowledgement (its chain to the device's root, its
// signature, its nonce) before deleting the sessions it names. Any
// failure deletes nothing: the sessions stay pending for the next send,
// and the result says how many. With no stopped session nothing is sent.
func (c *Client) SendSecureStops(ctx context.Context, serverURL string) (SendResult, error) {
	res := SendResult{Pending: c.PendingSecureStops()}
	if res.Pending == 0 {
		return res, nil
	}
	u, err := parseServerURL(serverURL, "secure-stop")
	if err != nil {
		return res, err
	}
	serverKey, err := c.serverKey(ctx, u)
	if err != nil {
		return res, err
	}
	d := c.cfg.Device
	body, nonce, n, err := d.SecureStopChallenge(serverKey, c.cfg.ClientVersion, c.cfg.Rand)
	if err != nil {
		return res, err
	}
	if n == 0 {
		return res, nil
	}
	res.Sent = n
	acked := false
	defer func() {
		if !acked {
			// The nonce answers nothing now; a resend draws a new one.
			d.AbandonNonce(nonce)
		}
	}()
	respBody, err := c.post(ctx, serverURL, soap.ActionProcessSecureStopData, body, nil)
	if err != nil {
		return res, fmt.Errorf("%w (the %d secure stops stay pending)", err, n)
	}
	ack, err := soap.ParseSecureStopResponse(respBody)
	if err != nil {
		return res, fmt.Errorf("ree: secure-stop response: %w (the %d secure stops stay pending)", err, n)
	}
	deleted, err := d.AcceptSecureStopAck(ack, nonce)
	if err != nil {
		return res, err
	}
	acked = true
	res.Acknowledged = deleted
	res.Pending = c.PendingSecureStops()
	return res, nil
}

// playSessions are the keys of one play that opened secure-stop sessions,
// and the license URL their stops go to.
type playSessions struct {
	keys []*tee.Key
	url  string
}

// add notes k's session; the first one names the URL the stops go to:
// laURL, else the license's header's LA_URL.
func (s *playSessions) add(k *tee.Key, laURL string, h *pro.Header) {
	if s.url == "" {
		s.url = laURL
		if s.url == "" && h != nil {
			s.url = h.LAURL
		}
	}
	for _, have := range s.keys {
		if have == k {
			return
		}
	}
	s.keys = append(s.keys, k)
}

// endSessions ends a play's secure-stop sessions: each key is closed, so
// the TEE records the stop and wipes the key in one step, and dropped from
// the session's keys (a later play binds afresh). The stops are then sent
// to the play's license URL, unless the play says not to. Sessions of
// earlier plays go along (the TEE sends every stopped session); a play
// that opened none sends nothing, since pending sessions may belong to
// another server.
func (c *Client) endSessions(ctx context.Context, ss *playSessions, pc playConfig) {
	if len(ss.keys) == 0 {
		return
	}
	c.mu.Lock()
	for _, k := range ss.keys {
		if c.keys[k.KID()] == k {
			delete(c.keys, k.KID())
		}
	}
	c.mu.Unlock()
	var closeErr error
	for _, k := range ss.keys {
		if err := k.Close(); err != nil && closeErr == nil {
			closeErr = err
		}
	}
	if pc.noSend {
		return
	}
	var res SendResult
	var err error
	switch {
	case closeErr != nil:
		// The stop stays unrecorded until the next open reports the
		// session stopped at its last update; sending now would omit it.
		res, err = SendResult{Pending: c.PendingSecureStops()}, closeErr
	case ss.url == "":
		res, err = SendResult{Pending: c.PendingSecureStops()},
			fmt.Errorf("ree: the play's license URL is unknown, so its secure stops stay pending: %w", drm.ErrSOAPXMLDataNotFound)
	default:
		res, err = c.SendSecureStops(ctx, ss.url)
	}
	if pc.onSent != nil {
		pc.onSent(res, err)
	}
}
