package cli

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// policyJSON is the JSON view of xmr.Policy: snake_case keys, KIDs as
// UUIDs, bytes as hex, and null for every object the license does not carry.
// Dates are also given in RFC 3339 (the *_time fields), and OPLs, output
// protections, play enablers and the source ID are named with their meaning
// (docs/formats/policies-and-outputs.md §2–§4).
type policyJSON struct {
	MinSecurityLevel      uint16            `json:"min_security_level"`
	MinAppCRLVersion      uint32            `json:"min_app_crl_version"`
	MinDeviceCRLVersion   uint32            `json:"min_device_crl_version"`
	RIV                   uint32            `json:"riv"`
	IssueDate             *uint32           `json:"issue_date"`
	IssueTime             *string           `json:"issue_date_time"`
	Expiration            *expirationJSON   `json:"expiration"`
	ExpireAfterFirstPlay  *uint32           `json:"expire_after_first_play"`
	ExpireAfterFirstUse   *uint32           `json:"expire_after_first_use"`
	ExpireAfterFirstStore *uint32           `json:"expire_after_first_store"`
	GracePeriod           *uint32           `json:"grace_period"`
	RemovalDate           *uint32           `json:"removal_date"`
	RemovalTime           *string           `json:"removal_date_time"`
	RealTimeExpiration    bool              `json:"real_time_expiration"`
	Settings              *uint16           `json:"settings"`
	SecureStopID          *string           `json:"secure_stop_id"`
	Metering              *string           `json:"metering_id"`
	SourceID              *uint32           `json:"source_id"`
	SourceIDName          *string           `json:"source_id_name"`
	RestrictedSourceID    bool              `json:"restricted_source_id"`
	EmbeddingBehavior     *uint16           `json:"embedding_behavior"`
	Domain                *domainJSON       `json:"domain"`
	SerialNumber          *string           `json:"serial_number"`
	InclusionList         []string          `json:"inclusion_list"`
	Priority              *uint32           `json:"priority"`
	Metadata              []metadataJSON    `json:"metadata"`
	GenerationNumber      *uint32           `json:"generation_number"`
	Play                  bool              `json:"play"`
	PlayCount             *uint32           `json:"play_count"`
	OPL                   *oplJSON          `json:"opl"`
	AnalogVideo           []outputJSON      `json:"analog_video"`
	DigitalAudio          []outputJSON      `json:"digital_audio"`
	DigitalVideo          []outputJSON      `json:"digital_video"`
	PlayEnablers          []string          `json:"play_enablers"`
	PlayEnablerNames      []enablerJSON     `json:"play_enabler_names"`
	Copy                  *copyJSON         `json:"copy"`
	PlaylistBurn          *playlistBurnJSON `json:"playlist_burn"`
	Revocation            *revocationJSON   `json:"revocation"`
	Unknown               []objectJSON      `json:"unknown"`
}

type expirationJSON struct {
	Begin     uint32  `json:"begin"`
	End       uint32  `json:"end"`
	BeginTime *string `json:"begin_time"` // null: no lower bound
	EndTime   *string `json:"end_time"`   // null: unlimited
}

type enablerJSON struct {
	ID   string  `json:"id"`
	Name *string `json:"name"` // null: not known to prsim
}

type domainJSON struct {
	AccountID string `json:"account_id"`
	Revision  uint32 `json:"revision"`
}

type metadataJSON struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

type oplJSON struct {
	CompressedDigitalVideo   uint16         `json:"compressed_digital_video"`
	UncompressedDigitalVideo uint16         `json:"uncompressed_digital_video"`
	AnalogVideo              uint16         `json:"analog_video"`
	CompressedDigitalAudio   uint16         `json:"compressed_digital_audio"`
	UncompressedDigitalAudio uint16         `json:"uncompressed_digital_audio"`
	Meaning                  oplMeaningJSON `json:"meaning"`
}

// oplMeaningJSON says what each OPL value asks of the outputs
// (docs/formats/policies-and-outputs.md §2).
type oplMeaningJSON struct {
	CompressedDigitalVideo   string `json:"compressed_digital_video"`
	UncompressedDigitalVideo string `json:"uncompressed_digital_video"`
	AnalogVideo              string `json:"analog_video"`
	CompressedDigitalAudio   string `json:"compressed_digital_audio"`
	UncompressedDigitalAudio string `json:"uncompressed_digital_audio"`
}

type outputJSON struct {
	ID     string  `json:"id"`
	Data   string  `json:"data"`
	Name   *string `json:"name"`   // null: not known to prsim
	Config string  `json:"config"` // configData decoded
}

type copyJSON struct {
	Count             *uint32  `json:"count"`
	ProtectionLevel   *uint16  `json:"protection_level"`
	MinMoveProtection *uint32  `json:"min_move_protection"`
	Enablers          []string `json:"enablers"`
}

type playlistBurnJSON struct {
	MaxBurns   uint32 `json:"max_burns"`
	TrackCount uint32 `json:"track_count"`
}

type rsaKeyJSON struct {
	Exponent uint32 `json:"exponent"`
	Modulus  string `json:"modulus"`
}

type revocationJSON struct {
	GranterKey *rsaKeyJSON `json:"granter_key"`
	UserID     *string     `json:"user_id"`
}

// hexOrNil renders bytes as hex; nil (absent) as null.
func hexOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	return ptr(hex.EncodeToString(b))
}

// kids renders KIDs as UUIDs; nil (absent) stays null.
func kids(ids []kid.ID) []string {
	if ids == nil {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	return out
}

func outputs(cs []xmr.OutputConfig) []outputJSON {
	if cs == nil {
		return nil
	}
	out := make([]outputJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, outputJSON{ID: c.ID.String(), Data: hex.EncodeToString(c.Data), Name: strOrNil(xmr.OutputProtectionName(c.ID)),
			Config: xmr.DescribeConfig(c.ID, c.Data)})
	}
	return out
}

func policyToJSON(p xmr.Policy) policyJSON {
	j := policyJSON{
		MinSecurityLevel: p.MinSecurityLevel, MinAppCRLVersion: p.MinAppCRLVersion, MinDeviceCRLVersion: p.MinDeviceCRLVersion,
		RIV: p.RIV, ExpireAfterFirstPlay: p.ExpireAfterFirstPlay, ExpireAfterFirstUse: p.ExpireAfterFirstUse,
		ExpireAfterFirstStore: p.ExpireAfterFirstStore, GracePeriod: p.GracePeriod, RemovalDate: p.RemovalDate,
		RealTimeExpiration: p.RealTimeExpiration, Settings: p.Settings, SourceID: p.SourceID,
		RestrictedSourceID: p.RestrictedSourceID, EmbeddingBehavior: p.EmbeddingBehavior,
		SerialNumber: hexOrNil(p.SerialNumber), InclusionList: kids(p.InclusionList), Priority: p.Priority,
		GenerationNumber: p.GenerationNumber, Play: p.Play, PlayCount: p.PlayCount,
		AnalogVideo: outputs(p.AnalogVideo), DigitalAudio: outputs(p.DigitalAudio), DigitalVideo: outputs(p.DigitalVideo),
		PlayEnablers: kids(p.PlayEnablers),
	}
	if p.IssueDate != 0 {
		j.IssueDate, j.IssueTime = ptr(p.IssueDate), rfc3339(p.IssueDate)
	}
	if p.RemovalDate != nil {
		j.RemovalTime = rfc3339(*p.RemovalDate)
	}
	if p.SourceID != nil {
		j.SourceIDName = strOrNil(xmr.SourceIDName(*p.SourceID))
	}
	if p.PlayEnablers != nil {
		j.PlayEnablerNames = make([]enablerJSON, 0, len(p.PlayEnablers))
		for _, id := range p.PlayEnablers {
			j.PlayEnablerNames = append(j.PlayEnablerNames, enablerJSON{ID: id.String(), Name: strOrNil(xmr.PlayEnablerName(id))})
		}
	}
	if e := p.Expiration; e != nil {
		j.Expiration = &expirationJSON{Begin: e.Begin, End: e.End}
		if e.Begin != 0 {
			j.Expiration.BeginTime = rfc3339(e.Begin)
		}
		if e.End != xmr.ExpirationUnlimited {
			j.Expiration.EndTime = rfc3339(e.End)
		}
	}
	if p.SecureStopID != nil {
		j.SecureStopID = ptr(hex.EncodeToString(p.SecureStopID[:]))
	}
	if p.Metering != nil {
		j.Metering = ptr(p.Metering.String())
	}
	if p.Domain != nil {
		j.Domain = &domainJSON{AccountID: hex.EncodeToString(p.Domain.AccountID[:]), Revision: p.Domain.Revision}
	}
	if p.Metadata != nil {
		j.Metadata = make([]metadataJSON, 0, len(p.Metadata))
		for _, m := range p.Metadata {
			j.Metadata = append(j.Metadata, metadataJSON{Type: m.Type.String(), Data: hex.EncodeToString(m.Data)})
		}
	}
	if o := p.OPL; o != nil {
		j.OPL = &oplJSON{CompressedDigitalVideo: o.CompressedDigitalVideo, UncompressedDigitalVideo: o.UncompressedDigitalVideo,
			AnalogVideo: o.AnalogVideo, CompressedDigitalAudio: o.CompressedDigitalAudio, UncompressedDigitalAudio: o.UncompressedDigitalAudio,
			Meaning: oplMeaning(*o)}
	}
	if c := p.Copy; c != nil {
		j.Copy = &copyJSON{Count: c.Count, ProtectionLevel: c.ProtectionLevel, MinMoveProtection: c.MinMoveProtection, Enablers: kids(c.Enablers)}
	}
	if b := p.PlaylistBurn; b != nil {
		j.PlaylistBurn = &playlistBurnJSON{MaxBurns: b.MaxBurns, TrackCount: b.TrackCount}
	}
	if r := p.Revocation; r != nil {
		j.Revocation = &revocationJSON{UserID: hexOrNil(r.UserID)}
		if k := r.GranterKey; k != nil {
			j.Revocation.GranterKey = &rsaKeyJSON{Exponent: k.Exponent, Modulus: hex.EncodeToString(k.Modulus)}
		}
	}
	if p.Unknown != nil {
		j.Unknown = make([]objectJSON, 0, len(p.Unknown))
		for _, o := range p.Unknown {
			j.Unknown = append(j.Unknown, objectToJSON(o))
		}
	}
	return j
}

// rfc3339 renders a license date (seconds since the Unix epoch, UTC).
func rfc3339(v uint32) *string {
	return ptr(time.Unix(int64(v), 0).UTC().Format(time.RFC3339))
}

// oplMeaning words each OPL by the row of docs/formats/policies-and-outputs.md §2
// its value falls in.
func oplMeaning(o xmr.OPL) oplMeaningJSON {
	return oplMeaningJSON{
		CompressedDigitalVideo:   oplRow(o.CompressedDigitalVideo, cvRows),
		UncompressedDigitalVideo: oplRow(o.UncompressedDigitalVideo, udvRows),
		AnalogVideo:              oplRow(o.AnalogVideo, avRows),
		CompressedDigitalAudio:   oplRow(o.CompressedDigitalAudio, caRows),
		UncompressedDigitalAudio: oplRow(o.UncompressedDigitalAudio, uaRows),
	}
}

// oplRange is one row of a §2 table: values up to max.
type oplRange struct {
	max  uint16
	text string
}

var (
	cvRows  = []oplRange{{0xFFFF, "compressed video is never passed to any output"}}
	udvRows = []oplRange{
		{100, "pass"}, {200, "pass"},
		{250, "attempt HDCP; pass whether or not it succeeds"},
		{270, "software DRM: attempt HDCP, else constrain to 520,000 pixels per frame; hardware DRM: HDCP required, else block"},
		{300, "HDCP required, else block (with the HDCP type restriction: HDCP 2.2+ with content stream type 1)"},
		{0xFFFF, "block"},
	}
	avRows = []oplRange{
		{100, "pass"},
		{150, "pass with CGMS-A CopyNever engaged, or if CGMS-A cannot be engaged"},
		{200, "pass only with CGMS-A CopyNever"},
		{0xFFFF, "block"},
	}
	caRows = []oplRange{{100, "pass"}, {300, "block compressed digital audio on HDMI/DP/S/PDIF; analog audio passes"}, {0xFFFF, "block"}}
	uaRows = []oplRange{
		{200, "pass"},
		{250, "pass if HDCP is engaged, or SCMS with CopyNever"},
		{300, "pass only with HDCP; analog audio passes"},
		{0xFFFF, "block"},
	}
)

func oplRow(v uint16, rows []oplRange) string {
	lo := uint16(0)
	for _, r := range rows {
		if v <= r.max {
			if v == 0 {
				return "0: no restriction"
			}
			if r.max == 0xFFFF && lo == 0 {
				return fmt.Sprintf("%d: %s", v, r.text)
			}
			if r.max == 0xFFFF {
				return fmt.Sprintf("%d (%d and above): %s", v, lo, r.text)
			}
			return fmt.Sprintf("%d (%d–%d): %s", v, lo, r.max, r.text)
		}
		lo = r.max + 1
	}
	return ""
}

// policySummary is the text view's named policy section: every policy
// object with its meaning.
func policySummary(p xmr.Policy) string {
	var sb strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&sb, "  "+format+"\n", args...) }
	line("min security level: %d", p.MinSecurityLevel)
	if p.IssueDate != 0 {
		line("issue date: %s", *rfc3339(p.IssueDate))
	}
	if e := p.Expiration; e != nil {
		begin, end := "none", "unlimited"
		if e.Begin != 0 {
			begin = *rfc3339(e.Begin)
		}
		if e.End != xmr.ExpirationUnlimited {
			end = *rfc3339(e.End)
		}
		line("expiration: from %s until %s", begin, end)
	}
	if p.RemovalDate != nil {
		line("removal date: %s", *rfc3339(*p.RemovalDate))
	}
	if p.ExpireAfterFirstPlay != nil {
		line("expires %d s after first play", *p.ExpireAfterFirstPlay)
	}
	if p.RealTimeExpiration {
		line("real-time expiration")
	}
	if p.SourceID != nil {
		name := xmr.SourceIDName(*p.SourceID)
		if name == "" {
			name = "not a listed ecosystem"
		}
		line("source ID: %d (%s)", *p.SourceID, name)
	}
	if p.RestrictedSourceID {
		line("restricted source ID")
	}
	if p.Play {
		line("right: Play")
	}
	if p.Copy != nil {
		line("right: Copy")
	}
	if o := p.OPL; o != nil {
		m := oplMeaning(*o)
		line("OPL compressed digital video %s", m.CompressedDigitalVideo)
		line("OPL uncompressed digital video %s", m.UncompressedDigitalVideo)
		line("OPL analog video %s", m.AnalogVideo)
		line("OPL compressed digital audio %s", m.CompressedDigitalAudio)
		line("OPL uncompressed digital audio %s", m.UncompressedDigitalAudio)
	}
	for _, x := range []struct {
		kind string
		cs   []xmr.OutputConfig
	}{{"analog video", p.AnalogVideo}, {"digital audio", p.DigitalAudio}, {"digital video", p.DigitalVideo}} {
		for _, c := range x.cs {
			name := xmr.OutputProtectionName(c.ID)
			if name == "" {
				name = "unknown to prsim"
			}
			line("%s output protection %s: %s: %s", x.kind, c.ID, name, xmr.DescribeConfig(c.ID, c.Data))
		}
	}
	for _, id := range p.PlayEnablers {
		name := xmr.PlayEnablerName(id)
		if name == "" {
			name = "unknown to prsim"
		}
		line("play enabler %s: %s", id, name)
	}
	return "policy (docs/formats/policies-and-outputs.md):\n" + sb.String()
}
