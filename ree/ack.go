package ree

import (
	"context"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/wire/soap"
)

// actionAcknowledgeLicense is the SOAPAction of an AcknowledgeLicense
// challenge (docs/formats/soap.md §7); servers route on the body's
// element, the header only names it.
const actionAcknowledgeLicense = `"` + soap.NSProtocols + `/AcknowledgeLicense"`

// resultFail is the DRM_RESULT reported for a license that did not bind
// for a reason without a DRM code: E_FAIL (winerror.h).
const resultFail uint32 = 0x80004005

// storageResult is a license's LicenseStorageResults entry: S_OK (0) when
// it bound, else the code that refused it.
func storageResult(r LicenseResult) soap.LicenseStorageResult {
	out := soap.LicenseStorageResult{KID: r.KID, LID: r.lid}
	switch code, ok := drm.CodeOf(r.Err); {
	case r.Err == nil && r.Bound:
		out.Result = 0
	case ok:
		out.Result = uint32(code)
	default:
		out.Result = resultFail
	}
	return out
}

// acknowledge sends the AcknowledgeLicense challenge a response with a
// TransactionID asks for (docs/protocol.md §11): one result per license
// of the response, signed by the TEE. A failure is set on every result's
// AckErr: the licenses are bound either way, but the server did not learn
// it.
func (c *Client) acknowledge(ctx context.Context, laURL, tid string, serverKey ecc.Point, out []LicenseResult) {
	a := &soap.LicenseAck{TransactionID: tid, ClientVersion: c.cfg.ClientVersion}
	for _, r := range out {
		a.Results = append(a.Results, storageResult(r))
	}
	err := c.sendAck(ctx, laURL, a, serverKey)
	for i := range out {
		out[i].TransactionID = tid
		out[i].AckErr = err
	}
}

func (c *Client) sendAck(ctx context.Context, laURL string, a *soap.LicenseAck, serverKey ecc.Point) error {
	body, err := c.cfg.Device.SignLicenseAck(a, serverKey, c.cfg.Rand)
	if err != nil {
		return fmt.Errorf("ree: failed to build the license acknowledgement: %w", err)
	}
	resp, err := c.post(ctx, laURL, actionAcknowledgeLicense, body, nil)
	if err != nil {
		return fmt.Errorf("%w (license acknowledgement)", err)
	}
	if err := soap.ParseLicenseAckResponse(resp); err != nil {
		return fmt.Errorf("ree: license acknowledgement response: %w", err)
	}
	return nil
}
