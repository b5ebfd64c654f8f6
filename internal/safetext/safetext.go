// Package safetext makes text that came from a request safe to put in a
// fault reason or a log line: bounded, and printable ASCII only, so that no
// terminal escape, bidi override or invalid byte from a peer reaches a user.
package safetext

// ASCII bounds s to max bytes (adding "…" when it cut) and replaces every
// byte outside printable ASCII with '?'.
func ASCII(s string, max int) string {
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if cut {
		return string(b) + "…"
	}
	return string(b)
}
