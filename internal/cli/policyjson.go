package cli

import (
	"encoding/hex"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// policyJSON is the JSON view of xmr.Policy: snake_case keys, KIDs as
// UUIDs, bytes as hex, and null for every object the license does not carry.
type policyJSON struct {
	MinSecurityLevel      uint16            `json:"min_security_level"`
	MinAppCRLVersion      uint32            `json:"min_app_crl_version"`
	MinDeviceCRLVersion   uint32            `json:"min_device_crl_version"`
	RIV                   uint32            `json:"riv"`
	IssueDate             *uint32           `json:"issue_date"`
	Expiration            *expirationJSON   `json:"expiration"`
	ExpireAfterFirstPlay  *uint32           `json:"expire_after_first_play"`
	ExpireAfterFirstUse   *uint32           `json:"expire_after_first_use"`
	ExpireAfterFirstStore *uint32           `json:"expire_after_first_store"`
	GracePeriod           *uint32           `json:"grace_period"`
	RemovalDate           *uint32           `json:"removal_date"`
	RealTimeExpiration    bool              `json:"real_time_expiration"`
	Settings              *uint16           `json:"settings"`
	SecureStopID          *string           `json:"secure_stop_id"`
	Metering              *string           `json:"metering_id"`
	SourceID              *uint32           `json:"source_id"`
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
	Copy                  *copyJSON         `json:"copy"`
	PlaylistBurn          *playlistBurnJSON `json:"playlist_burn"`
	Revocation            *revocationJSON   `json:"revocation"`
	Unknown               []objectJSON      `json:"unknown"`
}

type expirationJSON struct {
	Begin uint32 `json:"begin"`
	End   uint32 `json:"end"`
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
	CompressedDigitalVideo   uint16 `json:"compressed_digital_video"`
	UncompressedDigitalVideo uint16 `json:"uncompressed_digital_video"`
	AnalogVideo              uint16 `json:"analog_video"`
	CompressedDigitalAudio   uint16 `json:"compressed_digital_audio"`
	UncompressedDigitalAudio uint16 `json:"uncompressed_digital_audio"`
}

type outputJSON struct {
	ID   string `json:"id"`
	Data string `json:"data"`
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
		out = append(out, outputJSON{ID: c.ID.String(), Data: hex.EncodeToString(c.Data)})
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
		j.IssueDate = ptr(p.IssueDate)
	}
	if p.Expiration != nil {
		j.Expiration = &expirationJSON{Begin: p.Expiration.Begin, End: p.Expiration.End}
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
			AnalogVideo: o.AnalogVideo, CompressedDigitalAudio: o.CompressedDigitalAudio, UncompressedDigitalAudio: o.UncompressedDigitalAudio}
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
