package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/prsim/prsim/internal/keyseed"
	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/kid"
)

// playbackSegments is the length of the runner's content, in 1 s segments.
const playbackSegments = 2

func playbackScenarios() []Scenario {
	return family(FamilyPlayback, []row{
		{"B1", Must, PersonaSL3000,
			"docs/formats/media.md §2 and §4 (cenc AES-CTR, one key per track); docs/formats/policies-and-outputs.md §6 (contentkey)",
			"cenc DASH content (separate video and audio keys) decrypts, through the licenses the server returns, to exactly the clear samples.",
			playing(testmedia.SchemeCENC)},
		{"B2", Must, PersonaSL3000,
			"docs/formats/media.md §2 and §4 (cbcs AES-CBC 1:9 pattern); docs/formats/policies-and-outputs.md §6 (contentkey, ckt)",
			"cbcs DASH content (separate video and audio keys) decrypts, through the licenses the server returns, to exactly the clear samples.",
			playing(testmedia.SchemeCBCS)},
	})
}

// playing is the scenario that plays content protected with scheme.
func playing(scheme string) func(context.Context, *env) outcome {
	return func(ctx context.Context, e *env) outcome { return e.play(ctx, scheme) }
}

// play packages content with keys the runner chooses (cfg contentkey) or
// the test-seed keys (profile none), acquires one license per track header,
// plays the manifest through the REE and compares every sample with the
// clear files.
func (e *env) play(ctx context.Context, scheme string) outcome {
	d, err := e.device(PersonaSL3000)
	if err != nil {
		return errored("%v", err)
	}
	ids, err := e.newKIDs(2)
	if err != nil {
		return errored("%v", err)
	}
	tracks := map[kid.ID]*testmedia.Track{}
	opts := testmedia.Options{Scheme: scheme, LAURL: e.o.URL, Segments: playbackSegments, Seed: 7}
	for i, t := range []*testmedia.Track{&opts.Video, &opts.Audio} {
		t.KID = ids[i]
		if e.cfgProfile() {
			_, err = io.ReadFull(e.o.Rand, t.Key[:])
		} else {
			t.Key, err = keyseed.Derive(keyseed.TestSeed(), t.KID)
		}
		if err != nil {
			return errored("%v", err)
		}
		tracks[t.KID] = t
	}
	defer clear(opts.Video.Key[:])
	defer clear(opts.Audio.Key[:])
	if opts.Dir, err = e.tempDir("content"); err != nil {
		return errored("%v", err)
	}
	content, err := testmedia.Generate(opts)
	if err != nil {
		return errored("cannot make %s content: %v", scheme, err)
	}
	mpd, err := os.ReadFile(content.MPD)
	if err != nil {
		return errored("%v", err)
	}
	headers, err := ree.HeadersFromMPD(mpd)
	if err != nil {
		return errored("the runner's manifest has no PlayReady header: %v", err)
	}
	want := fmt.Sprintf("bound licenses for both tracks and %s output identical to the clear samples", scheme)
	for _, h := range headers {
		if len(h.KIDs) != 1 || tracks[h.KIDs[0].ID] == nil {
			return errored("the runner's manifest has an unexpected header")
		}
		t := tracks[h.KIDs[0].ID]
		cfg := "(kid:" + t.KID.String() + ",contentkey:" + base64.StdEncoding.EncodeToString(t.Key[:])
		if scheme == testmedia.SchemeCBCS {
			cfg += ",ckt:aes128bitcbc"
		}
		u, _ := e.laURL(cfg+")", false)
		x, err := e.acquire(ctx, d, h, u, nil, nil)
		if err != nil {
			return errored("%v", err)
		}
		lics, bad := x.licenses(want)
		if bad != nil {
			return *bad
		}
		if err := firstBindError(bindAll(d, lics...)); err != nil {
			return failed(want, err.Error())
		}
		if _, err := d.Client.Key(t.KID); err != nil {
			return failed(want, fmt.Sprintf("no bound license for track KID %s", t.KID))
		}
	}
	out, err := e.tempDir("out")
	if err != nil {
		return errored("%v", err)
	}
	played, err := d.Client.Play(ctx, content.MPD, out, e.o.URL)
	if err != nil {
		return failed(want, "playback failed: "+codeText(err))
	}
	if len(played) != 2 {
		return failed(want, fmt.Sprintf("%d tracks played", len(played)))
	}
	total := 0
	for _, tr := range played {
		clearFile, ok := content.ClearFiles[tr.Type]
		if !ok {
			return errored("no clear reference for track %q", tr.Type)
		}
		wantS, err := samples(clearFile)
		if err != nil {
			return errored("clear reference: %v", err)
		}
		got, err := samples(filepath.Join(out, tr.Out))
		if err != nil {
			return failed(want, fmt.Sprintf("%s output that does not parse", tr.Type))
		}
		if err := sameSamples(got, wantS); err != nil {
			return failed(want, fmt.Sprintf("%s track (KID %s): %v", tr.Type, tr.KID, err))
		}
		total += len(got)
	}
	return passed(fmt.Sprintf("%d samples identical to the clear source", total))
}

func sameSamples(got, want [][]byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("sample %d of %d differs from the clear source", i+1, len(want))
		}
	}
	return nil
}

// samples returns the sample payloads of a one-track fragmented MP4 file,
// in decode order.
func samples(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	if err != nil || f.Init == nil || f.Init.Moov == nil || f.Init.Moov.Mvex == nil {
		return nil, errors.New("not a fragmented MP4")
	}
	trex := f.Init.Moov.Mvex.Trex
	var out [][]byte
	for _, s := range f.Segments {
		for _, fr := range s.Fragments {
			ss, err := fr.GetFullSamples(trex)
			if err != nil {
				return nil, err
			}
			for _, x := range ss {
				out = append(out, bytes.Clone(x.Data))
			}
		}
	}
	return out, nil
}
