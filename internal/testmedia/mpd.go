package testmedia

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// SchemeMP4Protection is the DASH scheme of the generic CENC descriptor
// (ISO/IEC 23009-1 §5.8.5.2), whose value is the protection scheme and which
// carries cenc:default_KID.
const SchemeMP4Protection = "urn:mpeg:dash:mp4protection:2011"

// manifest returns a static MPD with one Period and one AdaptationSet per
// track, each with the generic CENC descriptor and the PlayReady descriptor
// (`cenc:pssh` and `mspr:pro`, which MS docs recommend giving both;
// docs/formats/pro-header.md §3), and one Representation using a SegmentTemplate
// with a SegmentTimeline.
func manifest(scheme string, tracks []*track) ([]byte, error) {
	m := mpd.NewMPD(mpd.STATIC_TYPE)
	m.Profiles = mpd.PROFILE_LIVE
	m.MinBufferTime = mpd.Seconds2DurPtr(2)
	var longest float64
	p := mpd.NewPeriod()
	p.Id = "0"
	p.Start = mpd.Seconds2DurPtr(0)
	m.AppendPeriod(p)
	for i, t := range tracks {
		var total uint64
		for _, d := range t.segDurs {
			total += d
		}
		secs := float64(total) / float64(t.timescale)
		longest = max(longest, secs)
		bandwidth := int(math.Ceil(float64(t.bytes) * 8 / secs))

		as := mpd.NewAdaptationSetWithParams(t.name, t.name+"/mp4", true, 1)
		as.Id = mpd.Ptr(uint32(i + 1))
		cenc := mpd.NewContentProtection()
		cenc.SchemeIdUri = SchemeMP4Protection
		cenc.Value = scheme
		cenc.DefaultKID = t.kid.String()
		pr := mpd.NewContentProtection()
		pr.SchemeIdUri = mpd.DRM_PLAYREADY
		pr.Value = "MSPR 2.0"
		pr.Pssh = &mpd.PsshType{Value: base64.StdEncoding.EncodeToString(t.pssh)}
		pr.MSPro = &mpd.MSProType{Value: base64.StdEncoding.EncodeToString(t.pro)}
		as.ContentProtections = []*mpd.ContentProtectionType{cenc, pr}

		var rep *mpd.RepresentationType
		switch t.name {
		case Video:
			rep = mpd.NewVideoRepresentation(t.name, t.codecs, "", strconv.Itoa(videoFPS), bandwidth, videoWidth, videoHeight)
			rep.Sar = "1:1"
		default:
			rep = mpd.NewAudioRepresentation(t.name, t.codecs, "", bandwidth, audioRate)
			rep.AudioChannelConfigurations = []*mpd.DescriptorType{
				mpd.NewDescriptor(mpd.AUDIO_CHANNEL_CONFIGURATION_CICP, "2", ""),
			}
		}
		st := mpd.NewSegmentTemplate()
		st.Initialization = t.name + "_init.mp4"
		st.Media = t.name + "_$Number$.m4s"
		st.StartNumber = mpd.Ptr(uint32(1))
		st.Timescale = mpd.Ptr(t.timescale)
		st.SegmentTimeline = timeline(t.segDurs)
		rep.SegmentTemplate = st
		as.AppendRepresentation(rep)
		p.AppendAdaptationSet(as)
	}
	m.MediaPresentationDuration = mpd.Seconds2DurPtrFloat64(longest)
	s, err := m.WriteToString("  ", true)
	if err != nil {
		return nil, fmt.Errorf("testmedia: write mpd: %w", err)
	}
	return []byte(s), nil
}

// timeline run-length encodes segment durations into S elements.
func timeline(durs []uint64) *mpd.SegmentTimelineType {
	tl := mpd.NewSegmentTimeline()
	for i, d := range durs {
		if n := len(tl.S); n > 0 && tl.S[n-1].D == d {
			tl.S[n-1].R++
			continue
		}
		s := &mpd.S{D: d}
		if i == 0 {
			s.T = mpd.Ptr(uint64(0))
		}
		tl.S = append(tl.S, s)
	}
	return tl
}
