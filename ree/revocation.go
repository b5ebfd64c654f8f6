package ree

import (
	"context"
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/soap"
)

// ingestLists hands the revocation lists of a response to the TEE, which
// keeps the ones that verify and are newer than those it holds. A list no
// newer than the one held is not an error (a server may send what the
// device has); the first other refusal is returned, after every list was
// tried.
func (c *Client) ingestLists(lists []soap.Revocation) error {
	var first error
	for _, l := range lists {
		id, err := kid.FromGUID(l.ListID[:])
		if err == nil {
			_, err = c.cfg.Device.IngestRevocation(id, l.Data)
		}
		if err != nil && !errors.Is(err, drm.ErrOutdatedRevocationList) && first == nil {
			first = err
		}
	}
	return first
}

// refreshLists asks the license server for the revocation lists newer
// than those the device holds: an acquisition with a 4.3 header that
// requests no license (LICENSEREQUESTED="false"), whose challenge
// advertises the held versions; the response's lists are ingested.
func (c *Client) refreshLists(ctx context.Context, laURL string) error {
	no := false
	h := &pro.Header{Version: pro.Version43, LAURL: laURL, LicenseRequested: &no}
	before, _ := c.cfg.Device.RevocationStatus()
	if _, err := c.acquire(ctx, h, laURL, acquireOptions{listRefresh: true}); err != nil {
		return err
	}
	if after, _ := c.cfg.Device.RevocationStatus(); after == before {
		return fmt.Errorf("ree: the server sent no newer revocation information (RIV still %d)", after)
	}
	return nil
}

// RevocationStatus is what the TEE holds: the RIV and each list's version.
type RevocationStatus struct {
	RIV   uint32                 `json:"riv"`
	Lists []RevocationListStatus `json:"lists"`
}

// RevocationListStatus is one list: its GUID, name and version (0 = none).
type RevocationListStatus struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version uint64 `json:"version"`
}

// RevocationStatus reports the revocation data the device's TEE holds.
func (c *Client) RevocationStatus() RevocationStatus {
	riv, lists := c.cfg.Device.RevocationStatus()
	out := RevocationStatus{RIV: riv, Lists: []RevocationListStatus{}}
	for _, l := range lists {
		out.Lists = append(out.Lists, RevocationListStatus{ID: l.ID.String(), Name: l.Name, Version: l.Version})
	}
	return out
}
