package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// writeText prints v (a JSON view type) as indented "key: value" lines in
// field order: inspect's default, human view of what --json prints. Strings
// are sanitised (they may come from untrusted files or servers); multi-line
// strings such as XML print as an indented block.
func writeText(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	var out strings.Builder
	if err := renderValue(&out, dec, "", ""); err != nil {
		return err
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// renderValue renders the next JSON value; label is "key: " or "- " (empty
// at the top level), indent the current indentation.
func renderValue(b *strings.Builder, dec *json.Decoder, indent, label string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		return renderContainer(b, dec, t, indent, label)
	case string:
		renderString(b, indent, label, t)
	case nil:
		fmt.Fprintf(b, "%s%s-\n", indent, label)
	default:
		fmt.Fprintf(b, "%s%s%v\n", indent, label, t)
	}
	return nil
}

func renderContainer(b *strings.Builder, dec *json.Decoder, open json.Delim, indent, label string) error {
	child := indent
	if label != "" {
		child = indent + "  "
	}
	if !dec.More() {
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		if label != "" {
			fmt.Fprintf(b, "%s%s(none)\n", indent, label)
		}
		return nil
	}
	if label != "" {
		fmt.Fprintf(b, "%s%s\n", indent, strings.TrimRight(label, " "))
	}
	for dec.More() {
		if open == '{' {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			if err := renderValue(b, dec, child, fmt.Sprint(k)+": "); err != nil {
				return err
			}
			continue
		}
		if err := renderValue(b, dec, child, "- "); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func renderString(b *strings.Builder, indent, label, s string) {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 1 {
		fmt.Fprintf(b, "%s%s%s\n", indent, label, sanitizeLine(s))
		return
	}
	fmt.Fprintf(b, "%s%s|\n", indent, label)
	for _, l := range lines {
		fmt.Fprintf(b, "%s    %s\n", indent, sanitizeLine(l))
	}
}

// sanitizeLine is sanitize without the length bound: inspect shows a whole
// file's content.
func sanitizeLine(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(strings.TrimRight(s, "\r"), "\uFFFD") {
		if r != '\t' && isUnsafeRune(r) {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}
