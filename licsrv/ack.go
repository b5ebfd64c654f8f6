package licsrv

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/soap"
)

// License acknowledgement (docs/protocol.md §11): a response with a
// TransactionID (cfg tid:GUID) records (TID, device) as pending; the
// device's AcknowledgeLicense, verified like a challenge, consumes it and
// is recorded; any other TID is DRM_E_SERVER_UNKNOWN_TRANSACTIONID.

// AcksPath serves the recorded acknowledgements (GET, JSON).
const AcksPath = "/prsim/acks"

// maxTIDLen bounds a TransactionID the server keeps.
const maxTIDLen = 128

// LicenseAck is one recorded acknowledgement, as GET [AcksPath] serves it.
type LicenseAck struct {
	TransactionID string         `json:"transaction_id"`
	Device        string         `json:"device"` // hex leaf digest
	Licenses      []AckedLicense `json:"licenses"`
	Time          string         `json:"time"` // RFC 3339, UTC, server time of receipt
}

// AckedLicense is one license's storage result in an acknowledgement.
type AckedLicense struct {
	KID    kid.ID `json:"kid"`
	LID    string `json:"lid"`    // base64, as in issued.jsonl
	Result string `json:"result"` // DRM_RESULT, 0x%08x (0x00000000 = S_OK)
}

// pendingKey is the pending-TID key of (tid, device digest).
func pendingKey(tid string, device []byte) []byte {
	return append(lenPrefixed(tid), device...)
}

// addPendingTID records that a response with tid went to device.
func (s *Server) addPendingTID(tid string, device []byte, now time.Time) error {
	if tid == "" {
		return nil
	}
	if len(tid) > maxTIDLen {
		return fmt.Errorf("licsrv: transaction ID longer than %d bytes", maxTIDLen)
	}
	return s.db.update(func(tx kvTx) error { return tx.put(bktPending, pendingKey(tid, device), unixBytes(now)) })
}

// acknowledgeLicense handles AcknowledgeLicense.
func (s *Server) acknowledgeLicense(body []byte, ev *event) ([]byte, error) {
	ch, err := soap.ParseAcknowledgeLicense(body)
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrServerInvalidMessage), "malformed AcknowledgeLicense challenge: "+libReason(err))
	}
	chainBytes, err := ch.DecryptData(func(ct ecc.Ciphertext) (ecc.Point, error) { return ecc.Decrypt(s.encD, ct) })
	if err != nil {
		return nil, fault(codeOr(err, drm.ErrXMLSigFormat), "acknowledgement data does not decrypt with the server's ENCRYPT_KEY: "+libReason(err))
	}
	_, dev, err := s.verifyDevice(chainBytes, ch.SignerKey, ch.VerifySignature, "AcknowledgeLicense challenge", "Ack element", ev)
	if err != nil {
		return nil, err
	}
	// ParseAcknowledgeLicense bounds the results (1..soap.MaxAckResults).
	results := ch.Results
	tid := ch.TransactionID
	rec := LicenseAck{TransactionID: tid, Device: ev.device, Licenses: []AckedLicense{}, Time: s.cfg.Now().UTC().Format(time.RFC3339)}
	for _, r := range results {
		rec.Licenses = append(rec.Licenses, AckedLicense{KID: r.KID, LID: base64.StdEncoding.EncodeToString(r.LID[:]),
			Result: fmt.Sprintf("0x%08x", r.Result)})
	}
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	errUnknown := errors.New("unknown")
	err = s.db.update(func(tx kvTx) error {
		k := pendingKey(tid, digest(dev))
		if len(tid) > maxTIDLen || tx.get(bktPending, k) == nil {
			return errUnknown
		}
		if err := tx.del(bktPending, k); err != nil {
			return err
		}
		_, err := appendJSON(tx, bktAcks, js)
		return err
	})
	switch {
	case errors.Is(err, errUnknown):
		return nil, fault(drm.ErrServerUnknownTransactionID, "transaction ID "+quote(tid)+
			" is unknown: no license response with it went to this device, or it was already acknowledged")
	case err != nil:
		ev.internal = true
		ev.reason = internalReason + ": cannot record the acknowledgement: " + libReason(err)
		return nil, fault(drm.ErrServerInternalError, internalReason)
	}
	return soap.BuildLicenseAckResponse(tid), nil
}

// Acks returns the recorded acknowledgements in arrival order.
func (s *Server) Acks() ([]LicenseAck, error) {
	return readJSON[LicenseAck](s.db, bktAcks, "acknowledgement")
}
