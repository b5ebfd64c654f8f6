package entitlement

import (
	"encoding/json"

	"github.com/prsim/prsim/wire/kid"
)

// The entitlement message v2 (the JWT's message claim), as far as prsim
// reads it. One definition serves the server's parser, the conformance
// runner's builder and the CLI. When parsing, unknown fields are refused:
// a restriction the server silently ignored would fail open. omitempty
// only shapes what a builder sends; parsing is the same with or without.
type Message struct {
	Type              string          `json:"type"`
	Version           int             `json:"version"`
	License           *License        `json:"license,omitempty"`
	ContentKeysSource *KeysSource     `json:"content_keys_source"`
	Policies          []UsagePolicy   `json:"content_key_usage_policies,omitempty"`
	LicenseServer     json.RawMessage `json:"license_server,omitempty"`
	Session           json.RawMessage `json:"session,omitempty"`

	// Filled by a successful parse: the checked forms the accessors return.
	usages  map[string]Usage
	keys    map[kid.ID]Key
	terms   Terms
	subject string // the verified token's "sub" claim (Verify only)
}

// Type and Version are the values a v2 message carries.
const (
	MessageType    = "entitlement_message"
	MessageVersion = 2
)

// License is the license section: terms shared by every key.
type License struct {
	StartDatetime      string            `json:"start_datetime,omitempty"`
	ExpirationDatetime string            `json:"expiration_datetime,omitempty"`
	Duration           *uint32           `json:"duration,omitempty"`
	AllowPersistence   *bool             `json:"allow_persistence,omitempty"`
	PlayReady          *LicensePlayReady `json:"playready,omitempty"`
	Widevine           map[string]any    `json:"widevine,omitempty"`
	FairPlay           map[string]any    `json:"fairplay,omitempty"`
}

// LicensePlayReady is the license section's playready part.
type LicensePlayReady struct {
	AllowPersistence   *bool   `json:"allow_persistence,omitempty"`
	RealTimeExpiration bool    `json:"real_time_expiration,omitempty"`
	PlaybackDuration   *uint32 `json:"playback_duration,omitempty"`
	// SecureStop (a prsim extension) asks for secure stop: SECURE_STOP
	// and SECURESTOP2 in each non-persistent license (docs/protocol.md §11).
	SecureStop bool `json:"secure_stop,omitempty"`
}

// KeysSource says where the content keys come from; prsim supports inline
// only (LicenseRequest and Stored are refused when present).
type KeysSource struct {
	Inline         []InlineKey     `json:"inline"`
	LicenseRequest json.RawMessage `json:"license_request,omitempty"`
	Stored         json.RawMessage `json:"stored,omitempty"`
}

// InlineKey is one entitled key. prsim's simplification: Key is the plain
// key in base64; the wrapped form (EncryptedKey, IV, SeedID) is refused.
// Key is a secret: a message is never logged or put in an error.
type InlineKey struct {
	ID           string  `json:"id"`
	Key          string  `json:"key"`
	UsagePolicy  string  `json:"usage_policy,omitempty"`
	EncryptedKey *string `json:"encrypted_key,omitempty"`
	IV           *string `json:"iv,omitempty"`
	SeedID       *string `json:"seed_id,omitempty"`
}

// UsagePolicy is one named content key usage policy.
type UsagePolicy struct {
	Name      string     `json:"name"`
	PlayReady *PlayReady `json:"playready,omitempty"`
	Widevine  *Widevine  `json:"widevine,omitempty"`
	FairPlay  *FairPlay  `json:"fairplay,omitempty"`
}

// PlayReady is a usage policy's playready section. Zero OPLs and source
// ID mean no restriction; a nil MinDeviceSecurityLevel is the default
// (2000).
type PlayReady struct {
	MinDeviceSecurityLevel      *uint16            `json:"min_device_security_level,omitempty"`
	AnalogVideoOPL              uint16             `json:"analog_video_opl,omitempty"`
	CompressedDigitalAudioOPL   uint16             `json:"compressed_digital_audio_opl,omitempty"`
	UncompressedDigitalAudioOPL uint16             `json:"uncompressed_digital_audio_opl,omitempty"`
	CompressedDigitalVideoOPL   uint16             `json:"compressed_digital_video_opl,omitempty"`
	UncompressedDigitalVideoOPL uint16             `json:"uncompressed_digital_video_opl,omitempty"`
	SourceID                    uint16             `json:"source_id,omitempty"`
	PlayEnablers                []string           `json:"play_enablers,omitempty"`
	AnalogVideo                 []OutputProtection `json:"analog_video_output_protections,omitempty"`
	DigitalVideo                []OutputProtection `json:"digital_video_output_protections,omitempty"`
	DigitalAudio                []OutputProtection `json:"digital_audio_output_protections,omitempty"`
}

// OutputProtection is an explicit output protection: a GUID and its
// configuration data in base64.
type OutputProtection struct {
	ID         string `json:"id"`
	ConfigData string `json:"config_data"`
}

// Widevine is a usage policy's widevine section: validated, not applied
// (prsim is a PlayReady client).
type Widevine struct {
	DeviceSecurityLevel *string `json:"device_security_level,omitempty"`
	CGMSA               *string `json:"cgms-a,omitempty"`
	HDCP                *string `json:"hdcp,omitempty"`
	DisableAnalogOutput *bool   `json:"disable_analog_output,omitempty"`
}

// FairPlay is a usage policy's fairplay section: validated, not applied.
type FairPlay struct {
	HDCP           *string `json:"hdcp,omitempty"`
	AllowAirPlay   *bool   `json:"allow_airplay,omitempty"`
	AllowAVAdapter *bool   `json:"allow_av_adapter,omitempty"`
}

// String and GoString keep the inline content keys out of %v, %+v and %#v
// (a Message, a Key and an InlineKey carry clear content keys).
func (m Message) String() string   { return "entitlement.Message{keys withheld}" }
func (m Message) GoString() string { return m.String() }

// String and GoString withhold the key; see [Message.String].
func (k InlineKey) String() string {
	return "entitlement.InlineKey{id " + quote(k.ID) + ", key withheld}"
}
func (k InlineKey) GoString() string { return k.String() }
