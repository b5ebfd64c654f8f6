package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/wire/kid"
)

// Bounds and defaults of "prsim content make".
const (
	defaultContentSeconds = 4
	maxContentSeconds     = 600 // about 150 MB of output; a bound against typos
	defaultContentLAURL   = "http://127.0.0.1:8080/rightsmanager.asmx"
)

type contentMakeOptions struct {
	out     string
	scheme  string
	laURL   string
	seconds int
	force   bool
	json    bool
	// rand draws the KIDs and the media seed; crypto/rand in production.
	rand io.Reader
}

func (o *contentMakeOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "output directory (required); created if needed")
	f.StringVar(&o.scheme, "scheme", testmedia.SchemeCENC, "protection scheme: cenc (AES-CTR) or cbcs (AES-CBC 1:9)")
	f.StringVar(&o.laURL, "la-url", "", "LA_URL written into each PlayReady header (absolute http or https URL; empty: "+defaultContentLAURL+")")
	f.IntVar(&o.seconds, "seconds", defaultContentSeconds, fmt.Sprintf("duration in seconds, one 1 s segment per second (1 to %d)", maxContentSeconds))
	f.BoolVar(&o.force, "force", false, "replace content already in --out (its manifest.mpd and prsim-named media files)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("out")
}

type contentTrackJSON struct {
	Type string `json:"type"` // video or audio
	KID  string `json:"kid"`  // lower-case UUID (CENC byte order)
	Key  string `json:"key"`  // base64 content key: a test key, derived from the public test key seed
}

type contentMakeJSON struct {
	MPD     string             `json:"mpd"`
	Scheme  string             `json:"scheme"`
	Seconds int                `json:"seconds"`
	Tracks  []contentTrackJSON `json:"tracks"`
	// Cfg names every KID with its key in the reference server's cfg
	// grammar (one group per KID), for any server that speaks it.
	Cfg   string `json:"cfg"`
	LAURL string `json:"la_url"`
	// URL is LAURL with cfg=Cfg added: a ready --url for license acquire
	// and play.
	URL      string `json:"url"`
	Replaced bool   `json:"replaced"` // --force replaced earlier content
}

func newContentCmd() *cobra.Command {
	c := &cobra.Command{Use: "content", Short: "Make protected test content"}
	o := &contentMakeOptions{rand: rand.Reader}
	mk := &cobra.Command{
		Use:   "make --out DIR [--scheme cenc|cbcs] [--la-url URL] [--seconds N] [--force] [--json]",
		Short: "Write playable PlayReady-protected DASH test content (H.264 + AAC) with fresh KIDs and test-seed keys",
		Long: "Writes DIR/manifest.mpd and its segments: a moving test picture with a clock and a beep each second,\n" +
			"video and audio encrypted under separate keys, a PlayReady header (PRO and pssh) per AdaptationSet.\n" +
			"The KIDs are random; each key is derived from the KID with the public PlayReady test key seed, so it is\n" +
			"a test key by construction and is printed, with a cfg= fragment that makes any cfg-speaking license\n" +
			"server issue exactly these keys. Never use such content for anything but tests.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := o.run()
			if err != nil {
				return err
			}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%s, %d s)\n", out.MPD, out.Scheme, out.Seconds)
				for _, t := range out.Tracks {
					fmt.Fprintf(w, "%s kid=%s key=%s\n", t.Type, t.KID, t.Key)
				}
				fmt.Fprintf(w, "la_url=%s\n", out.LAURL)
				fmt.Fprintf(w, "cfg=%s\n", out.Cfg)
				fmt.Fprintf(w, "url=%s\n", out.URL)
			})
		},
	}
	o.addFlags(mk)
	c.AddCommand(mk)
	return c
}

func (o *contentMakeOptions) run() (*contentMakeJSON, error) {
	if o.scheme != testmedia.SchemeCENC && o.scheme != testmedia.SchemeCBCS {
		return nil, usagef("--scheme must be cenc or cbcs")
	}
	if o.seconds < 1 || o.seconds > maxContentSeconds {
		return nil, usagef("--seconds must be 1 to %d", maxContentSeconds)
	}
	laURL := o.laURL
	if laURL == "" {
		laURL = defaultContentLAURL
	}
	u, err := url.Parse(laURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return nil, usagef("--la-url must be an absolute http or https URL without a fragment")
	}
	mpd := filepath.Join(o.out, "manifest.mpd")
	replaced := false
	switch _, err := os.Stat(mpd); {
	case err == nil && !o.force:
		return nil, withHint(usagef("directory %s already holds content (manifest.mpd)", o.out), "pass --force to replace it")
	case err == nil:
		replaced = true
		if err := removeContent(o.out); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}

	var tracks [2]testmedia.Track
	for i := range tracks {
		if tracks[i].KID, err = randomKID(o.rand); err != nil {
			return nil, err
		}
		if tracks[i].Key, err = keyseed.Derive(keyseed.TestSeed(), tracks[i].KID); err != nil {
			return nil, err
		}
	}
	var b [8]byte
	if _, err := io.ReadFull(o.rand, b[:]); err != nil {
		return nil, fmt.Errorf("content: drawing a seed: %w", err)
	}
	var seed int64
	for _, x := range b {
		seed = seed<<8 | int64(x)
	}
	c, err := testmedia.Generate(testmedia.Options{Dir: o.out, Scheme: o.scheme, Video: tracks[0], Audio: tracks[1],
		LAURL: laURL, Segments: o.seconds, Seed: seed})
	if err != nil {
		return nil, err
	}
	out := &contentMakeJSON{MPD: c.MPD, Scheme: o.scheme, Seconds: o.seconds, LAURL: laURL, Replaced: replaced}
	var groups []string
	for i, name := range []string{testmedia.Video, testmedia.Audio} {
		key := base64.StdEncoding.EncodeToString(tracks[i].Key[:])
		out.Tracks = append(out.Tracks, contentTrackJSON{Type: name, KID: tracks[i].KID.String(), Key: key})
		groups = append(groups, "(kid:"+tracks[i].KID.String()+",contentkey:"+key+")")
	}
	out.Cfg = strings.Join(groups, ",")
	sep := "?"
	switch {
	case u.RawQuery != "":
		sep = "&"
	case u.ForceQuery: // ends in a bare "?"
		sep = ""
	}
	out.URL = laURL + sep + "cfg=" + out.Cfg
	return out, nil
}

// randomKID draws a version-4 (random) UUID, RFC 9562 §5.4.
func randomKID(r io.Reader) (kid.ID, error) {
	var b [kid.Size]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return kid.ID{}, fmt.Errorf("content: drawing a KID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return kid.FromBytes(b[:])
}

// removeContent removes the files a previous "content make" wrote into dir,
// so that --force leaves no stale segments; other files stay.
func removeContent(dir string) error {
	for _, pattern := range [...]string{"manifest.mpd", "video_init.mp4", "audio_init.mp4",
		"video_clear.mp4", "audio_clear.mp4", "video_*.m4s", "audio_*.m4s"} {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := os.Remove(n); err != nil {
				return err
			}
		}
	}
	return nil
}
