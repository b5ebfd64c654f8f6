package licsrv

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/securestop"
	"github.com/prsim/prsim/wire/soap"
)

// Secure stop on the server side (docs/protocol.md §11, "Reference
// server"): licenses issued with cfg securestop:true carry SECURE_STOP
// (a random ID per license) and SECURESTOP2 (a key per KID); the device's
// ProcessSecureStopData challenge is verified like a license challenge,
// each record is stored once in the state store and the server answers
// with an acknowledgement signed with its SIGN_RESPONSE key.

// ReportsPath serves the stored secure-stop reports (GET, JSON).
const ReportsPath = "/prsim/securestop/reports"

// ss2Label is the HMAC input prefix of a SecureStop2 key.
const ss2Label = "prsim ss2"

// ss2SecretInfo is the HKDF info of the server's SecureStop2 secret.
const ss2SecretInfo = "prsim securestop2 secret"

// ss2Secret derives the server's SecureStop2 secret from its signing key:
// every server instance with the same PKI derives the same keys, across
// restarts, so a report can be verified by any of them (the seed's
// ISecureStop2Handler returns the same key for a KID every time). It must
// be kept secret.
func ss2Secret(signKey []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, signKey, nil, ss2SecretInfo, 32)
}

// ss2Key is the SecureStop2 key of every license for id:
// HMAC-SHA256(secret, "prsim ss2" ‖ KID)[:16]. It must be kept secret.
func (s *Server) ss2Key(id kid.ID) [16]byte {
	m := hmac.New(sha256.New, s.ss2Secret)
	m.Write([]byte(ss2Label))
	m.Write(id[:])
	return [16]byte(m.Sum(nil))
}

// Report is one stored secure-stop report, as GET [ReportsPath] serves it.
type Report struct {
	Session string   `json:"session"` // UUID
	Device  string   `json:"device"`  // hex leaf digest of the reporting device
	KIDs    []kid.ID `json:"kids"`
	Start   string   `json:"start"` // RFC 3339, UTC
	Stop    string   `json:"stop"`  // RFC 3339, UTC: the record's update time
	// VerifiedSS2 is the session ID when the record was a SecureStop2
	// record whose MAC verified with the license's key, else the empty
	// GUID (SecureStop1, or a MAC that does not verify).
	VerifiedSS2 string `json:"verified_ss2"`
}

// emptyGUID is VerifiedSS2 of an unverified report.
var emptyGUID = kid.ID{}.String()

// processSecureStop handles ProcessSecureStopData.
func (s *Server) processSecureStop(body []byte, ev *event) ([]byte, error) {
	ch, err := soap.ParseSecureStopChallenge(body)
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrServerInvalidMessage), "malformed secure-stop challenge: "+libReason(err))
	}
	chainBytes, recBytes, err := ch.DecryptData(func(ct ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(s.encD, ct) })
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrXMLSigFormat), "secure-stop data does not decrypt with the server's ENCRYPT_KEY: "+libReason(err))
	}
	if _, _, err := s.verifyDevice(chainBytes, ch.SignerKey, ch.VerifySignature, "secure-stop challenge", "SecureStop element", ev); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if err := s.checkClientTime(ch.ClientTime, now); err != nil {
		return nil, err
	}
	// ParseRecords bounds the list (1..securestop.MaxRecords) and checks
	// each record's version and KID count.
	recs, err := securestop.ParseRecords(recBytes)
	if err != nil {
		return nil, fault(drm.ErrServerInvalidMessage, "secure-stop records malformed: "+libReason(err))
	}
	reports := make([]Report, len(recs))
	for i := range recs {
		r := &recs[i]
		if why := recordProblem(r); why != "" {
			return nil, fault(drm.ErrServerInvalidMessage, fmt.Sprintf("secure-stop record %d (session %s): %s", i, kid.ID(r.Session), why))
		}
		reports[i] = Report{Session: kid.ID(r.Session).String(), Device: ev.device, KIDs: r.KIDs,
			Start: time.Unix(r.Start, 0).UTC().Format(time.RFC3339), Stop: time.Unix(r.Update, 0).UTC().Format(time.RFC3339),
			VerifiedSS2: emptyGUID}
		if s.verifySS2(r) {
			reports[i].VerifiedSS2 = reports[i].Session
		}
	}
	if err := s.storeReports(recs, reports); err != nil {
		ev.internal = true
		ev.reason = internalReason + ": cannot store secure-stop reports: " + libReason(err)
		return nil, fault(drm.ErrServerInternalError, internalReason)
	}
	ack := &securestop.Ack{Nonce: ch.Nonce, Chain: s.cfg.Chain.Bytes()}
	if !s.defects[DefectDropAck] {
		for _, r := range recs {
			ack.Sessions = append(ack.Sessions, r.Session)
		}
	}
	sg := s.signer
	sg.flip = s.defects[DefectBadResponseSignature]
	b, err := ack.Sign(sg)
	if err != nil {
		return nil, fmt.Errorf("licsrv: cannot sign the secure-stop acknowledgement: %w", err)
	}
	return soap.BuildSecureStopResponse(b), nil
}

// recordProblem says why a parsed record cannot be a stop report, or "".
func recordProblem(r *securestop.Record) string {
	switch {
	case !r.Stopped:
		return "session is not stopped (only stopped sessions are reported)"
	case r.Update < r.Start:
		return "update time is before the start time"
	}
	return ""
}

// verifySS2 reports whether r is a SecureStop2 record whose MAC verifies
// with the key of one of its KIDs (a session's licenses all carry their
// KID's key). DefectAcceptTamperedSS2 takes every version 2 record as
// verified.
func (s *Server) verifySS2(r *securestop.Record) bool {
	if r.Version != 2 {
		return false
	}
	if s.defects[DefectAcceptTamperedSS2] {
		return true
	}
	for _, id := range r.KIDs {
		k := s.ss2Key(id)
		ok := r.VerifySS2(k)
		clear(k[:])
		if ok {
			return true
		}
	}
	return false
}

// storeReports stores each record not stored yet (by session ID) and
// closes the streams of their licenses, in one transaction: a resend
// changes nothing (DefectDoubleCountResend stores it again).
func (s *Server) storeReports(recs []securestop.Record, reports []Report) error {
	return s.db.update(func(tx kvTx) error {
		for i, r := range recs {
			if tx.get(bktReportIndex, r.Session[:]) != nil && !s.defects[DefectDoubleCountResend] {
				continue
			}
			js, err := json.Marshal(reports[i])
			if err != nil {
				return err
			}
			seq, err := appendJSON(tx, bktReports, js)
			if err != nil {
				return err
			}
			if err := tx.put(bktReportIndex, r.Session[:], u64(seq)); err != nil {
				return err
			}
			if s.defects[DefectIgnoreStreamStops] {
				continue
			}
			if err := closeStream(tx, r.Publisher); err != nil {
				return err
			}
		}
		return nil
	})
}

// Reports returns the stored secure-stop reports in arrival order.
func (s *Server) Reports() ([]Report, error) {
	return readJSON[Report](s.db, bktReports, "report")
}

// serveJSON answers a GET endpoint with v's JSON, or a 500 with a reason.
func (s *Server) serveJSON(w http.ResponseWriter, ev *event, action string, v any, err error) {
	ev.action = action
	if err != nil {
		ev.outcome, ev.status, ev.internal, ev.code = outcomeFault, http.StatusInternalServerError, true, drm.ErrServerInternalError
		ev.reason = internalReason + ": " + libReason(err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(ev.status)
		_, _ = io.WriteString(w, internalReason+"\n")
		return
	}
	ev.outcome, ev.status = outcomeOK, http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
