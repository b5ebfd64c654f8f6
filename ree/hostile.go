package ree

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// Limits on untrusted input. MPDs, headers and segments come from anyone:
// every size and count is checked before anything is allocated for it, so
// that no input drives memory or time without bound.
const (
	// MaxMPDSize bounds a DASH manifest (a real one is a few kB).
	MaxMPDSize = 1 << 20
	// MaxHeaderFileSize bounds a file holding a WRMHEADER or PRO (a real
	// one is a few kB).
	MaxHeaderFileSize = 64 << 10
	// MaxInitSize bounds an init segment.
	MaxInitSize = 1 << 20
	// MaxSegmentSize bounds a media segment, and a single-file
	// (SegmentBase) track as a whole.
	MaxSegmentSize = 64 << 20
	// MaxSegments bounds the media segments of one representation
	// (a day of 1 s segments fits).
	MaxSegments = 100_000
	// MaxTemplateWidth bounds the width of a $Number%0Nd$ or $Time%0Nd$
	// identifier: a uint64 has 20 digits; 16 is more than any packager
	// writes.
	MaxTemplateWidth = 16
	// MaxBoxDepth bounds the nesting of ISOBMFF container boxes. A real
	// file nests about 10 deep (moov/trak/mdia/minf/stbl/stsd/encv/sinf/schi).
	MaxBoxDepth = 16
	// maxSegmentPath bounds one segment path (BaseURLs and the expanded
	// template; Linux PATH_MAX), so that a long name times MaxSegments
	// stays small.
	maxSegmentPath = 4096
	// maxXMLDepth bounds element nesting in an MPD (a real one: about 8).
	maxXMLDepth = 64
)

// parserTimeout is the backstop for a third-party parser that loops on an
// input the guards let through: the call is abandoned (its goroutine keeps
// running until the process exits) and the input is rejected. The guards
// below are what make known loops fail fast; this only turns an unknown one
// into an error instead of a hung process.
const parserTimeout = 10 * time.Second

// errParserStuck is returned when a parser did not finish in parserTimeout.
var errParserStuck = errors.New("ree: parser did not finish")

// ReadLocalFile reads a local file of untrusted content: it must be a
// regular file (a FIFO, a device such as /dev/zero or a directory is
// refused, also behind a symlink), not empty, and at most limit bytes.
// Errors name the file.
func ReadLocalFile(path string, limit int64) ([]byte, error) {
	return readBounded(path, limit, ErrMedia)
}

// readBounded is [ReadLocalFile] for any kind of file: kind is what its
// refusals wrap (ErrMedia for media).
func readBounded(path string, limit int64, kind error) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("ree: %s is not a regular file (%s): %w", path, st.Mode().Type(), kind)
	}
	// O_NONBLOCK: should the path be swapped for a FIFO after Stat, open
	// must not wait for a writer; the Stat of the open file below catches
	// the swap.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("ree: %s is not a regular file (%s): %w", path, st.Mode().Type(), kind)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("ree: %s is %d bytes, more than the limit of %d: %w", path, st.Size(), limit, kind)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("ree: %w", err)
	}
	switch {
	case int64(len(b)) > limit: // grew while being read
		return nil, fmt.Errorf("ree: %s is more than the limit of %d bytes: %w", path, limit, kind)
	case len(b) == 0:
		return nil, fmt.Errorf("ree: %s is empty: %w", path, kind)
	}
	return b, nil
}

// parseMPD decodes an untrusted manifest. The bytes are first checked with
// the standard library's XML tokenizer (one well-formed document whose root
// is MPD, bounded size and depth, no DTD) and '>' in character data is
// escaped, since dash-mpd's own XML decoder loops forever on it
// ([escapeTextGT]). The decoder then runs under [runGuarded]: a panic
// becomes an error, and ctx or parserTimeout end the wait.
func parseMPD(ctx context.Context, data []byte) (*mpd.MPD, error) {
	safe, err := checkMPDXML(data)
	if err != nil {
		return nil, err
	}
	var m *mpd.MPD
	err = runGuarded(ctx, "MPD", func() error {
		var perr error
		m, perr = mpd.MPDFromBytes(safe)
		return perr
	})
	if err != nil {
		if errors.Is(err, errParserStuck) || errors.Is(err, ErrMedia) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("ree: MPD does not parse: %w", ErrMedia)
	}
	return m, nil
}

// checkMPDXML validates data with encoding/xml and returns it with every
// '>' in character data (outside CDATA) written as "&gt;".
func checkMPDXML(data []byte) ([]byte, error) {
	bad := func(why string) error { return fmt.Errorf("ree: MPD is not well-formed XML (%s): %w", why, ErrMedia) }
	if len(data) > MaxMPDSize {
		return nil, fmt.Errorf("ree: MPD is %d bytes, more than the limit of %d: %w", len(data), MaxMPDSize, ErrMedia)
	}
	// A UTF-8 byte order mark (some Windows tools write one) is not text
	// outside the root.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// Only UTF-8 (and its ASCII subset): dash-mpd reads nothing else either.
	d.CharsetReader = nil
	var gts []int64 // offsets of '>' to escape
	depth, roots := 0, 0
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The offset, not encoding/xml's message: that may quote the input.
			return nil, bad(fmt.Sprintf("syntax error near byte %d", d.InputOffset()))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return nil, bad("more than one root element")
				}
				if t.Name.Local != "MPD" {
					return nil, bad("root element is not MPD")
				}
			}
			depth++
			if depth > maxXMLDepth {
				return nil, bad(fmt.Sprintf("elements nest deeper than %d", maxXMLDepth))
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			raw := data[start:d.InputOffset()]
			if depth == 0 {
				if len(bytes.TrimSpace(raw)) != 0 {
					return nil, bad("text outside the root element")
				}
				continue
			}
			if bytes.HasPrefix(raw, []byte("<![CDATA[")) {
				continue
			}
			for i, c := range raw {
				if c == '>' {
					gts = append(gts, start+int64(i))
				}
			}
		case xml.Directive:
			return nil, bad("DTD or other directive")
		}
	}
	if roots == 0 {
		return nil, bad("no MPD element")
	}
	return escapeTextGT(data, gts), nil
}

// escapeTextGT writes "&gt;" for the '>' at each offset.
//
// dash-mpd v0.17.0 vendors a patched encoding/xml (its xml/ directory). In
// xml.go, (*Decoder).text stops at an unquoted '>' outside CDATA and puts
// it back (d.ungetc('>'), "Possible end of tag reached"), a branch meant
// for unquoted attribute values. rawToken reaches text() for character
// data too, so at a '>' in text it returns an empty token without
// consuming input; (*Decoder).unmarshal, looking for the root start
// element, calls Token again and again: an endless loop at full CPU, for
// the 1-byte input ">" as for any manifest with a literal '>' in an
// element's text (legal XML). Escaping the '>' keeps the document's
// meaning and avoids the branch.
func escapeTextGT(data []byte, offsets []int64) []byte {
	if len(offsets) == 0 {
		return data
	}
	out := make([]byte, 0, len(data)+3*len(offsets))
	prev := int64(0)
	for _, o := range offsets {
		out = append(out, data[prev:o]...)
		out = append(out, "&gt;"...)
		prev = o + 1
	}
	return append(out, data[prev:]...)
}

// runGuarded runs a parser of untrusted bytes: a panic becomes an error
// (ErrMedia naming what was parsed), and the wait ends with ctx or after
// parserTimeout.
func runGuarded(ctx context.Context, what string, parse func() error) error {
	done := make(chan error, 1)
	go func() {
		done <- recoverParse(what, parse)
	}()
	t := time.NewTimer(parserTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("ree: %s parsing stopped: %w", what, ctx.Err())
	case <-t.C:
		return fmt.Errorf("%w: %s: %w", errParserStuck, what, ErrMedia)
	}
}

// recoverParse calls parse and turns a panic into an error.
func recoverParse(what string, parse func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ree: %s parser failed on malformed input: %w", what, ErrMedia)
		}
	}()
	return parse()
}
