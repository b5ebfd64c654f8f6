package licsrv

import (
	"fmt"
	"time"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/pro"
)

// Defaults of [Limits]. A PlayReady client asks for a license per KID of
// one header, a handful at most; the bounds leave room for multi-key
// content and stop one request from making the server issue, sign, log and
// store thousands of licenses (docs/protocol.md §4, Limits).
const (
	DefaultMaxBody        = 1 << 20 // bytes of request body
	DefaultMaxLicenses    = 64      // licenses in one response
	DefaultMaxCfgGroups   = 64      // cfg bracket groups
	DefaultMaxCfgBytes    = maxCfg  // cfg length, after percent-decoding
	DefaultMaxHeaderKIDs  = 64      // KIDs in the content header
	DefaultMaxConns       = 256     // open connections (Serve)
	DefaultMaxIssuedBytes = 64 << 20

	// Header and body timeouts follow common server practice; the idle
	// timeout is short (Apache httpd and Node.js use 5 s) because a client
	// asks for licenses in a burst and then goes away for minutes.
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 5 * time.Second
)

// MaxBody is the default largest request body; [Limits.MaxBody] changes it.
const MaxBody = DefaultMaxBody

// maxHeaderBytes bounds a request's header block (request line and query
// included); the cfg bound is far below it.
const maxHeaderBytes = 64 << 10

// Limits bound what one request or one client can make the server do. A
// zero field takes its Default* value; New refuses a negative one. A
// request over a bound gets a SOAP fault naming the bound and the value
// (and the prsim server flag that sets it) before the server does the work.
type Limits struct {
	// MaxBody is the largest request body read (DRM_E_SERVER_INVALID_MESSAGE).
	MaxBody int64
	// MaxLicenses bounds the licenses of one response: the sum over cfg
	// groups of the header KIDs each applies to, counted before any is
	// built (DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED). It also bounds the
	// issued.jsonl records one request appends.
	MaxLicenses int
	// MaxCfgGroups bounds the cfg bracket groups
	// (DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED: each group asks for licenses).
	MaxCfgGroups int
	// MaxCfgBytes bounds the cfg value after percent-decoding, at most
	// DefaultMaxCfgBytes (DRM_E_SERVER_INVALID_MESSAGE).
	MaxCfgBytes int
	// MaxHeaderKIDs bounds the KIDs of the content header
	// (DRM_E_SERVER_MAXIMUM_LICENSEID_EXCEEDED).
	MaxHeaderKIDs int
	// MaxIssuedBytes is the size past which DataDir/issued.jsonl is renamed
	// to issued.jsonl.1 (replacing it) before the next append: the file
	// log takes at most about twice this on disk.
	MaxIssuedBytes int64

	// The rest apply to connections accepted by [Server.Serve].

	// MaxConns bounds open connections. At the bound the server closes
	// the longest-idle keep-alive connection to admit a new one; if none
	// is idle the new one waits (in the kernel backlog) for a slot.
	MaxConns int
	// ReadHeaderTimeout bounds reading a request's header, from the
	// connection's start or the first byte of a keep-alive request.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling a request and writing its answer, from
	// the end of its header.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request.
	IdleTimeout time.Duration
}

// withDefaults returns l with zero fields set to their defaults, or an
// error naming a negative or out-of-range field.
func (l Limits) withDefaults() (Limits, error) {
	for _, err := range []error{
		orDefault("limit", "MaxLicenses", &l.MaxLicenses, DefaultMaxLicenses),
		orDefault("limit", "MaxCfgGroups", &l.MaxCfgGroups, DefaultMaxCfgGroups),
		orDefault("limit", "MaxCfgBytes", &l.MaxCfgBytes, DefaultMaxCfgBytes),
		orDefault("limit", "MaxHeaderKIDs", &l.MaxHeaderKIDs, DefaultMaxHeaderKIDs),
		orDefault("limit", "MaxConns", &l.MaxConns, DefaultMaxConns),
	} {
		if err != nil {
			return l, err
		}
	}
	if l.MaxCfgBytes > maxCfg {
		return l, fmt.Errorf("licsrv: limit MaxCfgBytes %d is above the cfg parser's bound %d", l.MaxCfgBytes, maxCfg)
	}
	for _, err := range []error{
		orDefault("limit", "MaxBody", &l.MaxBody, DefaultMaxBody),
		orDefault("limit", "MaxIssuedBytes", &l.MaxIssuedBytes, DefaultMaxIssuedBytes),
		orDefault("timeout", "ReadHeaderTimeout", &l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		orDefault("timeout", "ReadTimeout", &l.ReadTimeout, DefaultReadTimeout),
		orDefault("timeout", "WriteTimeout", &l.WriteTimeout, DefaultWriteTimeout),
		orDefault("timeout", "IdleTimeout", &l.IdleTimeout, DefaultIdleTimeout),
	} {
		if err != nil {
			return l, err
		}
	}
	return l, nil
}

// orDefault sets a zero *v to def and refuses a negative one.
func orDefault[T int | int64 | time.Duration](kind, name string, v *T, def T) error {
	switch {
	case *v < 0:
		return fmt.Errorf("licsrv: %s %s is negative (%v)", kind, name, *v)
	case *v == 0:
		*v = def
	}
	return nil
}

// limitFault is the fault of a request over a bound: what it asked for
// (with the number), the bound, and the prsim server flag that sets it, e.g.
// "response would hold 273000 licenses; limit 64 (--max-licenses)".
func limitFault(code drm.Code, what string, limit int64, flag string) error {
	return fault(code, fmt.Sprintf("%s; limit %d (--%s)", what, limit, flag))
}

// checkCfgLen bounds the cfg before it is parsed.
func (s *Server) checkCfgLen(raw string) error {
	if n := len(raw); n > s.cfg.Limits.MaxCfgBytes {
		return limitFault(drm.ErrServerInvalidMessage, fmt.Sprintf("cfg is %d bytes", n), int64(s.cfg.Limits.MaxCfgBytes), "max-cfg-bytes")
	}
	return nil
}

// checkCfgGroups bounds the cfg groups once parsed (a parse of at most
// MaxCfgBytes is cheap), before any policy is read.
func (s *Server) checkCfgGroups(n int) error {
	if s.defects[DefectNoLimits] || n <= s.cfg.Limits.MaxCfgGroups {
		return nil
	}
	return limitFault(drm.ErrServerMaximumLicenseIDExceeded, fmt.Sprintf("cfg has %d groups", n), int64(s.cfg.Limits.MaxCfgGroups), "max-cfg-groups")
}

// checkAmplification bounds the header KIDs and the licenses the request
// would yield, counted as issue would build them, before the challenge's
// signature is checked or any license built: a request over a bound costs
// the server a parse, not thousands of ECC operations.
func (s *Server) checkAmplification(pols []Policy, h *pro.Header) error {
	if s.defects[DefectNoLimits] {
		return nil
	}
	lim := s.cfg.Limits
	if n := len(h.KIDs); n > lim.MaxHeaderKIDs {
		return limitFault(drm.ErrServerMaximumLicenseIDExceeded, fmt.Sprintf("content header names %d KIDs", n), int64(lim.MaxHeaderKIDs), "max-header-kids")
	}
	if n := s.licenseCount(pols, h); n > int64(lim.MaxLicenses) {
		return limitFault(drm.ErrServerMaximumLicenseIDExceeded, fmt.Sprintf("response would hold %d licenses", n), int64(lim.MaxLicenses), "max-licenses")
	}
	return nil
}

// licenseCount is the number of licenses issue would build for pols and h.
func (s *Server) licenseCount(pols []Policy, h *pro.Header) int64 {
	if h.LicenseRequested != nil && !*h.LicenseRequested && !s.defects[DefectIgnoreLicenseRequested] {
		return 0
	}
	var n int64
	for _, p := range pols {
		if p.KID == nil {
			n += int64(len(h.KIDs))
			continue
		}
		for _, k := range h.KIDs {
			if k.ID == *p.KID {
				n++
			}
		}
	}
	return n
}
