package licsrv

import (
	"errors"
	"strconv"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/safetext"
)

// maxQuoted bounds how much of a caller-supplied value a reason quotes.
const maxQuoted = 64

// quote renders a caller-supplied, non-secret value for a fault reason or a
// log line: at most maxQuoted bytes, anything outside printable ASCII
// replaced by '?', in double quotes. Secrets are never passed here.
func quote(s string) string {
	cut := len(s) > maxQuoted
	q := strconv.Quote(safetext.ASCII(s, maxQuoted))
	if cut {
		// clean appended the ellipsis inside the quotes; move it out.
		q = strings.Replace(q, "…", "", 1) + "…"
	}
	return q
}

// libReason renders a wire-library error for a fault reason: without the
// package prefix and without the trailing DRM code (the fault carries the
// code), sanitised like quote but unquoted. The wire packages build their
// messages from fixed text and element names only, never from input bytes.
func libReason(err error) string {
	s := err.Error()
	if c, ok := drm.CodeOf(err); ok {
		s = strings.TrimSuffix(s, ": "+c.String())
	}
	for _, p := range []string{"soap: ", "bcert: ", "pro: ", "revocation: "} {
		s = strings.TrimPrefix(s, p)
	}
	return safetext.ASCII(s, 200)
}

// errCfg is wrapped by every cfg error.
var errCfg = errors.New("licsrv: malformed cfg")

// cfgError is a cfg problem: its reason names the key and, for a non-secret
// key, the value (quoted).
type cfgError struct{ reason string }

func (e *cfgError) Error() string { return "licsrv: " + e.reason }
func (e *cfgError) Unwrap() error { return errCfg }

func cfgSyntax(pos int, what string) error {
	return &cfgError{"cfg syntax error at offset " + strconv.Itoa(pos) + ": " + what}
}

// badValue names key and its (non-secret) value and says what was expected.
func badValue(n node, want string) error {
	if n.list != nil {
		return &cfgError{"cfg " + keyName(n.key) + ": value is a bracket group; want " + want}
	}
	return &cfgError{"cfg " + keyName(n.key) + ": " + quote(n.atom) + " is not " + want}
}

// badSecret names key without its value.
func badSecret(n node, want string) error {
	return &cfgError{"cfg " + keyName(n.key) + ": value is not " + want + " (value withheld)"}
}

// keyName renders a cfg key: as is when it is a short run of letters (every
// supported key is), else quoted.
func keyName(k string) string {
	if len(k) == 0 || len(k) > 32 {
		return quote(k)
	}
	for _, c := range []byte(k) {
		if c < 'a' || c > 'z' {
			return quote(k)
		}
	}
	return k
}

// cfgReason returns the reason of a cfg error.
func cfgReason(err error) string {
	var ce *cfgError
	if errors.As(err, &ce) {
		return ce.reason
	}
	return "malformed cfg"
}
