package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/soap"
)

// maxDetail bounds a "detail" text: a license server's fault text is
// untrusted and may be of any length.
const maxDetail = 2048

// failure is the report of a failed command: the JSON object printed with
// --json, and the "prsim: ERROR: DETAIL" line on stderr.
type failure struct {
	// Error is the DRM code ("DRM_E_… (0x8004….)") when there is one, else
	// what went wrong.
	Error string `json:"error"`
	// Detail says why (the reason behind a code: the server's fault text, the
	// TEE's refusal) or what to do; null when there is nothing to add.
	Detail *string `json:"detail"`
}

func (f failure) text() string {
	if f.Detail == nil {
		return f.Error
	}
	return f.Error + ": " + *f.Detail
}

// hintError adds what the user should do to an error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() + ": " + e.hint }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, format string, a ...any) error {
	return hintError{err: err, hint: fmt.Sprintf(format, a...)}
}

// describe turns an error into its report. A DRM failure reports its code,
// with the rest of the error chain (or the license server's fault text) as
// the detail; any other failure reports its message, with a hint as the
// detail when prsim knows what to do about it. Text is sanitised: no
// control characters, bounded length.
func describe(err error) failure {
	hint := hintFor(err)
	if c, ok := drm.CodeOf(err); ok {
		reason := reasonOf(err, c)
		return failure{Error: c.String(), Detail: joinDetail(reason, hint)}
	}
	var rb *ree.RollbackError
	if errors.As(err, &rb) {
		// Exit 1, as a DeviceStateError: the device directory is not
		// what the TEE last wrote, no DRM code applies. The TEE's reason
		// quotes generation numbers only.
		return failure{Error: sanitize(filepath.Join(rb.Dir, "store.db") + " was rolled back: the TEE refuses an older copy of its state"),
			Detail: joinDetail(stripPrefixes(rb.Err.Error()), "restore the newest copy of the device directory, or provision a new device")}
	}
	msg := err.Error()
	var h hintError
	switch {
	case errors.Is(err, tee.ErrKeysLost):
		// The chain (challenge → signature → TPM load) says nothing more useful.
		msg = tee.ErrKeysLost.Error()
	case errors.As(err, &h):
		msg = h.err.Error()
	}
	return failure{Error: sanitize(stripPrefixes(msg)), Detail: joinDetail("", hint)}
}

func joinDetail(reason, hint string) *string {
	var parts []string
	for _, p := range []string{reason, hint} {
		if p = sanitize(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return ptr(strings.Join(parts, "; "))
}

// hintFor returns what to do about err: an explicit hint, or one for the
// failures every command can meet (no PKI, no device, lost TPM keys).
func hintFor(err error) string {
	var h hintError
	if errors.As(err, &h) {
		return h.hint
	}
	var np *pki.NotFoundError
	var nd *ree.NoDeviceError
	switch {
	case errors.As(err, &np):
		return fmt.Sprintf("create one with 'prsim pki init --dir %s'", np.Dir)
	case errors.As(err, &nd):
		return fmt.Sprintf("run 'prsim device new --dir %s --pki PKI --sl 150|2000|3000' first", nd.Dir)
	case errors.Is(err, tee.ErrKeysLost):
		return "the TPM refused to load its key blobs (TPM_RC_INTEGRITY); the keys are gone, provision a new device with 'prsim device new'"
	case errors.Is(err, tee.ErrBackend):
		return "in sim:SEED the seed is a decimal integer, e.g. sim:42 (plain sim picks a random one)"
	}
	return ""
}

// reasonOf is the detail of a DRM failure: the license server's own words
// for a fault, else the error chain's message without the code.
func reasonOf(err error, c drm.Code) string {
	var f *soap.Fault
	if errors.As(err, &f) {
		msg, cd := sanitize(f.Message), sanitize(f.CustomData)
		switch {
		case msg == "" && cd == "":
			return "the license server gave no reason"
		case cd == "":
			return "server says: " + msg
		case msg == "":
			return "server says: " + cd
		}
		return "server says: " + msg + "; custom data: " + cd
	}
	return withoutCode(err.Error(), c.String())
}

// withoutCode is msg without the code's text ("DRM_E_… (0x…)") and the
// package prefixes: the reason a detail adds to the code.
func withoutCode(msg, code string) string {
	msg = strings.ReplaceAll(msg, ": "+code, "")
	msg = strings.ReplaceAll(msg, code, "")
	return strings.Trim(stripPrefixes(msg), " :")
}

// pkgPrefix matches the package prefixes of library error messages
// ("ree: ", "tee: ", …): useful in logs, noise to a user of the CLI.
var pkgPrefix = regexp.MustCompile(`\b(ree|tee|soap|xmr|bcert|pro|store|pki|tpm|licsrv|kid|drm|demo|policy): `)

func stripPrefixes(s string) string { return pkgPrefix.ReplaceAllString(s, "") }

// sanitize makes text safe to print: invalid UTF-8 and control characters
// (terminal escapes, bidi overrides) become U+FFFD, line breaks become "; ",
// and the result is cut to maxDetail bytes.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	prevBreak := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			if !prevBreak {
				b.WriteString("; ")
			}
			prevBreak = true
			continue
		case r == '\t':
			b.WriteByte(' ')
		case isUnsafeRune(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
		prevBreak = false
	}
	out := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(b.String()), ";"))
	if len(out) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

// isUnsafeRune reports control characters (terminal escapes included) and
// invisible text-direction overrides.
func isUnsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}
