package licsrv

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/safetext"
	"github.com/prsim/prsim/wire/entitlement"
)

// Axinom-style entitlement messages (docs/formats/policies-and-outputs.md §7).
// Package wire/entitlement parses and checks the token and its message;
// this file holds the server's decisions on top: where a request carries
// the token, which entitled keys this client can support, and the mapping
// of usage policies to license policies (hence XMR), with fault codes.

// EntitlementHeader is the HTTP header that carries an entitlement message
// (entitlement.Header).
const EntitlementHeader = entitlement.Header

// minCommKeyLen is the shortest communication key [New] accepts.
const minCommKeyLen = entitlement.MinCommKeyLen

// The two fault codes of entitlement problems. A message that is invalid
// (the HTTP 400 class of the Axinom service: bad token, bad signature,
// unknown key, expired, malformed) gives DRM_E_SERVER_INVALID_MESSAGE; a
// valid message that denies the license (403: KID not entitled, no usable
// key) gives DRM_E_SERVER_SERVICE_SPECIFIC, the code PlayReady reserves
// for a service's business decision.
const (
	codeEntitlementInvalid = drm.ErrServerInvalidMessage
	codeEntitlementDenied  = drm.ErrServerServiceSpecific
)

func invalidEntitlement(reason string) error {
	return fault(codeEntitlementInvalid, "entitlement message: "+reason)
}

// jwtShape matches a compact JWS; CustomData is read as an entitlement
// message only when it has this shape (it may carry other things).
var jwtShape = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// entitlementToken returns the token of a request: the header, else a
// JWT-shaped CustomData. Both present and different is refused.
func entitlementToken(header, customData string) (string, error) {
	cd := strings.TrimSpace(customData)
	if !jwtShape.MatchString(cd) {
		cd = ""
	}
	switch {
	case header != "" && cd != "" && header != cd:
		return "", invalidEntitlement("the " + EntitlementHeader + " header and the challenge CustomData carry different tokens")
	case header != "":
		return header, nil
	}
	return cd, nil
}

// verifyEntitlement checks the token and returns its message; an invalid
// one is a DRM_E_SERVER_INVALID_MESSAGE fault with the package's reason.
func (s *Server) verifyEntitlement(token string, now time.Time) (*entitlement.Message, error) {
	if len(s.cfg.CommKeys) == 0 {
		return nil, invalidEntitlement("this server has no communication key configured (prsim server --comm-key)")
	}
	m, err := entitlement.Verify(token, s.cfg.CommKeys, now)
	if err != nil {
		var ee *entitlement.Error
		if errors.As(err, &ee) {
			return nil, invalidEntitlement(ee.Reason)
		}
		return nil, invalidEntitlement("token invalid")
	}
	return m, nil
}

// entitlementPolicies turns a verified message into one policy per
// requested KID, dropping the keys this client cannot support
// (docs/formats/policies-and-outputs.md §7): a requested KID that is not
// entitled denies the license, and so does having no usable key left.
func (s *Server) entitlementPolicies(m *entitlement.Message, req *request) ([]Policy, error) {
	t := m.Terms()
	base := Policy{Begin: t.Begin, End: t.End, Persist: t.Persist, RealTime: t.RealTime, FirstPlay: t.FirstPlay}
	if l := m.License; l != nil && l.PlayReady != nil && l.PlayReady.SecureStop {
		if t.Persist {
			return nil, invalidEntitlement("license.playready.secure_stop applies to non-persistent licenses only, which contradicts allow_persistence")
		}
		base.SecureStop = true
	}
	clientSL := req.leaf.Basic().SecurityLevel
	major := clientMajor(req.ch.ClientVersion)
	var out []Policy
	var dropped []string
	for _, hk := range req.header.KIDs {
		k, ok := m.Key(hk.ID)
		if !ok {
			return nil, fault(codeEntitlementDenied, "requested KID "+hk.ID.String()+" is not entitled by the entitlement message")
		}
		p := base
		id := hk.ID
		p.KID = &id
		ck := k.Value
		p.ContentKey = &ck
		p.SL = 150 // a key without a usage policy: prsim's server default
		if up, ok := m.Usage(k.UsagePolicy); ok {
			p.usagePolicy = k.UsagePolicy
			p.SL = up.MinSecurityLevel
			p.OPL, p.HasOPL = up.OPL, up.HasOPL
			p.SourceID = up.SourceID
			p.PlayEnablers = up.PlayEnablers
			p.AnalogVideo, p.DigitalVideo, p.DigitalAudio = protections(up.AnalogVideo), protections(up.DigitalVideo), protections(up.DigitalAudio)
			p.needsDVOP = len(up.DigitalVideo) > 0
		}
		why := ""
		switch {
		case uint32(p.SL) > clientSL:
			why = fmt.Sprintf("needs security level %d, the client has %d", p.SL, clientSL)
		case p.needsDVOP && major <= 2:
			why = fmt.Sprintf("usage policy %s needs digital video output protection, which PlayReady %d.x clients do not support", quote(p.usagePolicy), major)
		}
		if why != "" && !s.defects[DefectKeepUnsupportedKey] {
			dropped = append(dropped, hk.ID.String()+": "+why)
			continue
		}
		out = append(out, p)
	}
	if len(req.header.KIDs) == 0 {
		return nil, fault(drm.ErrServerInvalidMessage, "content header names no KID")
	}
	if len(out) == 0 {
		return nil, fault(codeEntitlementDenied, "no entitled key is usable by this client: "+safetext.ASCII(strings.Join(dropped, "; "), 400))
	}
	return out, nil
}

// protections converts the message's explicit output protections.
func protections(ps []entitlement.Protection) []OutputConfig {
	var out []OutputConfig
	for _, p := range ps {
		out = append(out, OutputConfig{ID: p.ID, Data: p.Data})
	}
	return out
}
