package ree

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/pro"
)

// ErrNoHeader is returned when content carries no PlayReady header.
var ErrNoHeader = fmt.Errorf("ree: no PlayReady header found: %w", drm.ErrSOAPXMLDataNotFound)

const playReadyScheme = "urn:uuid:" + pro.SystemIDString

// HeaderFromPRO reads a base64 PlayReady Object (or bare WRMHEADER).
func HeaderFromPRO(b64 string) (*pro.Header, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errors.New("ree: PRO is not base64")
	}
	return pro.ParseHeaderData(b)
}

// HeaderFromPSSH reads a base64 pssh box with the PlayReady system ID.
func HeaderFromPSSH(b64 string) (*pro.Header, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errors.New("ree: PSSH is not base64")
	}
	p, err := pro.ParsePSSH(b)
	if err != nil {
		return nil, err
	}
	if p.SystemID != pro.SystemID() {
		return nil, ErrNoHeader
	}
	return pro.ParseHeaderData(p.Data)
}

// headerFromCPs returns the PlayReady header of a ContentProtection list:
// mspr:pro first, then cenc:pssh. The scheme UUID compares lower-cased.
func headerFromCPs(cps []*mpd.ContentProtectionType) (*pro.Header, error) {
	var firstErr error
	for _, cp := range cps {
		if cp == nil || strings.ToLower(string(cp.SchemeIdUri)) != playReadyScheme {
			continue
		}
		if cp.MSPro != nil && strings.TrimSpace(cp.MSPro.Value) != "" {
			h, err := HeaderFromPRO(cp.MSPro.Value)
			if err == nil {
				return h, nil
			}
			firstErr = err
		}
		if cp.Pssh != nil && strings.TrimSpace(cp.Pssh.Value) != "" {
			h, err := HeaderFromPSSH(cp.Pssh.Value)
			if err == nil {
				return h, nil
			}
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, ErrNoHeader
}

// HeadersFromMPD returns the distinct PlayReady headers of a DASH manifest,
// one per adaptation set that carries one (AdaptationSet, then
// Representation, then Period and MPD level).
//
// The manifest is untrusted: it is checked and decoded as in [Client.Play]
// (at most MaxMPDSize bytes, one well-formed MPD document).
func HeadersFromMPD(data []byte) ([]*pro.Header, error) {
	m, err := parseMPD(context.Background(), data)
	if err != nil {
		return nil, err
	}
	var out []*pro.Header
	seen := map[string]bool{}
	for _, p := range m.Periods {
		for _, as := range p.AdaptationSets {
			h, err := adaptationHeader(m, p, as)
			if err != nil {
				if errors.Is(err, ErrNoHeader) {
					continue
				}
				return nil, err
			}
			x, _ := h.XML()
			if !seen[x] {
				seen[x] = true
				out = append(out, h)
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrNoHeader
	}
	return out, nil
}

func adaptationHeader(m *mpd.MPD, p *mpd.Period, as *mpd.AdaptationSetType) (*pro.Header, error) {
	lists := [][]*mpd.ContentProtectionType{as.ContentProtections}
	for _, r := range as.Representations {
		lists = append(lists, r.ContentProtections)
	}
	lists = append(lists, p.ContentProtections, m.ContentProtection)
	for _, l := range lists {
		h, err := headerFromCPs(l)
		if err == nil || !errors.Is(err, ErrNoHeader) {
			return h, err
		}
	}
	return nil, ErrNoHeader
}
