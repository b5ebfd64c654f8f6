package licsrv

import (
	"fmt"
	"strings"
)

// Defect is a known bug the server can be told to have, so that a
// conformance suite run against it can be seen to fail. A server without
// defects is the reference; each defect breaks one rule a client relies on.
type Defect string

// The defects. Each one's [Defect.Description] says what it breaks.
const (
	DefectNoNonceEcho            Defect = "no-nonce-echo"
	DefectUnsignedResponse       Defect = "unsigned-response"
	DefectBadResponseSignature   Defect = "bad-response-signature"
	DefectIgnoreSL               Defect = "ignore-sl"
	DefectIgnorePersist          Defect = "ignore-persist"
	DefectWrongContentKey        Defect = "wrong-content-key"
	DefectAcceptBadSignature     Defect = "accept-bad-signature"
	DefectAcceptUntrustedRoot    Defect = "accept-untrusted-root"
	DefectFaultAs200             Defect = "fault-as-200"
	DefectIgnoreLicenseRequested Defect = "ignore-license-requested"
	DefectIssueAboveCertSL       Defect = "issue-above-cert-sl"
	DefectNoLimits               Defect = "no-limits"
	DefectNoTimeouts             Defect = "no-timeouts"
	DefectMisEncodeOPL           Defect = "mis-encode-opl"
	DefectDropPlayEnabler        Defect = "drop-play-enabler"
	DefectKeepUnsupportedKey     Defect = "keep-unsupported-key"
	DefectNoClientTimeCheck      Defect = "no-client-time-check"
	DefectStaleServerTime        Defect = "stale-server-time"
	DefectUnsignedServerTime     Defect = "unsigned-server-time"
	DefectMisEncodeDates         Defect = "mis-encode-dates"
	DefectDropAck                Defect = "drop-ack"
	DefectAcceptTamperedSS2      Defect = "accept-tampered-ss2"
	DefectDoubleCountResend      Defect = "double-count-resend"
	DefectIgnoreStreamStops      Defect = "ignore-stream-stops"
	DefectAcceptRevoked          Defect = "accept-revoked"
	DefectStaleRevInfo           Defect = "stale-revinfo"
	DefectIgnoreAllowList        Defect = "ignore-allow-list"
	DefectRIVZero                Defect = "riv-zero"
)

// defects lists every defect in documentation order with what it breaks.
var defects = [...]struct {
	d    Defect
	desc string
}{
	{DefectNoNonceEcho, "the response LicenseNonce is random instead of the challenge nonce"},
	{DefectUnsignedResponse, "the response carries no XML signature"},
	{DefectBadResponseSignature, "the response signature does not verify (a SignatureValue bit is flipped after signing)"},
	{DefectIgnoreSL, "cfg sl: is ignored: licenses carry minimum security level 150"},
	{DefectIgnorePersist, "cfg persist:true is ignored: licenses are non-persistent"},
	{DefectWrongContentKey, "the license content key has one byte flipped (the license binds, content decrypts wrongly)"},
	{DefectAcceptBadSignature, "the challenge signature (ECDSA and LA digest) is not verified"},
	{DefectAcceptUntrustedRoot, "a device chain is accepted whatever root it ends at (the rest of the chain is still checked)"},
	{DefectFaultAs200, "SOAP faults are sent with HTTP 200 instead of 500"},
	{DefectIgnoreLicenseRequested, `licenses are issued even when the header says LICENSEREQUESTED="false"`},
	{DefectIssueAboveCertSL, "a license whose cfg sl: is above the device certificate's security level is issued instead of refused (the device must still refuse to bind it)"},
	{DefectNoLimits, "licenses per response, cfg groups and header KIDs are not bounded: one request yields groups x KIDs licenses"},
	{DefectNoTimeouts, "connections have no read, write or idle timeout: slow and idle clients hold them forever"},
	{DefectMisEncodeOPL, "every non-zero output protection level is written 50 lower than asked (ucvopl 300 becomes 250)"},
	{DefectDropPlayEnabler, "play enablers asked for (cfg playenablers, allowunknownhd/sd, entitlement play_enablers) are left out of the license"},
	{DefectKeepUnsupportedKey, "entitlement keys whose usage policy the client cannot support (security level, digital video output protection on PlayReady 2.x) are issued instead of dropped"},
	{DefectNoClientTimeCheck, "a challenge's ClientTime is not checked against the server's time: any client clock is accepted"},
	{DefectStaleServerTime, "the signed License Server Time is a day behind the server's clock"},
	{DefectUnsignedServerTime, "the License Server Time statement carries a zero signature instead of one made with the secure-time key"},
	{DefectMisEncodeDates, "begin and end dates are written a day later than asked, and an end date asked alone gets begin date 0 instead of the ClientTime"},
	{DefectDropAck, "the secure-stop acknowledgement names no session although the reports were stored: the device keeps them pending and resends"},
	{DefectAcceptTamperedSS2, "a SecureStop2 record whose MAC does not verify is reported verified (verified_ss2 = its session)"},
	{DefectDoubleCountResend, "a resent secure-stop record is stored again: one session is reported twice"},
	{DefectIgnoreStreamStops, "a secure-stop report does not close its license's stream: an account at --max-streams-per-account stays refused until its streams are an hour old"},
	{DefectAcceptRevoked, "a device chain with a certificate on the runtime CRL (a revoked device or model) is served instead of refused with DRM_E_DEVCERT_REVOKED"},
	{DefectStaleRevInfo, "newer revocation lists are never sent: a challenge advertising older RevInfo or CRL versions gets none, so the device cannot meet the licenses' RIV"},
	{DefectIgnoreAllowList, "the RevAllowInfo allow list (--rev-allow) is not honoured: revoked certificates it lists are refused"},
	{DefectRIVZero, "licenses carry REVOCATION_INFORMATION_VERSION_2 = 0 instead of the served RevInfo's RIV"},
}

// Defects returns every defect name, in a fixed order.
func Defects() []Defect {
	out := make([]Defect, len(defects))
	for i, d := range defects {
		out[i] = d.d
	}
	return out
}

// ParseDefect returns the defect named s (case-insensitive). The error of
// an unknown name lists the valid ones.
func ParseDefect(s string) (Defect, error) {
	for _, d := range defects {
		if strings.EqualFold(s, string(d.d)) {
			return d.d, nil
		}
	}
	return "", fmt.Errorf("licsrv: unknown defect %s (valid: %s)", quote(s), defectNames())
}

// Description says what the defect breaks; "" for an unknown defect.
func (d Defect) Description() string {
	for _, e := range defects {
		if e.d == d {
			return e.desc
		}
	}
	return ""
}

func defectNames() string {
	names := make([]string, len(defects))
	for i, d := range defects {
		names[i] = string(d.d)
	}
	return strings.Join(names, ", ")
}

// defectSet is the set of injected defects.
type defectSet map[Defect]bool

func newDefectSet(ds []Defect) (defectSet, error) {
	set := defectSet{}
	for _, d := range ds {
		if d.Description() == "" {
			return nil, fmt.Errorf("licsrv: unknown defect %s (valid: %s)", quote(string(d)), defectNames())
		}
		set[d] = true
	}
	return set, nil
}
