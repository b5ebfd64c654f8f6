package pro_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/pro"
)

// Build the PlayReady `pssh` box shaka-packager writes for cenc content,
// then read it back as a player would. Key pair from docs/formats/pro-header.md §8.
func Example() {
	id := kid.MustParse("10000000-1000-1000-1000-100000000001")
	key, _ := hex.DecodeString("3a2a1b68dd2bd9b2eeb25e84c4776668")
	sum, err := pro.Checksum(pro.AlgAESCTR, id, key)
	if err != nil {
		panic(err)
	}
	h := &pro.Header{
		Version: pro.Version40,
		KIDs:    []pro.KeyInfo{{ID: id, AlgID: pro.AlgAESCTR, Checksum: sum}},
	}
	o, err := pro.NewObject(h)
	if err != nil {
		panic(err)
	}
	box := (&pro.PSSH{SystemID: pro.SystemID(), Data: o.Bytes()}).Bytes()
	fmt.Println(len(box), "byte pssh box")

	p, err := pro.ParsePSSH(box)
	if err != nil {
		panic(err)
	}
	got, err := p.Header()
	if err != nil {
		panic(err)
	}
	k := got.KIDs[0]
	fmt.Println(got.Version, k.ID, k.ID.Base64GUID(), base64.StdEncoding.EncodeToString(k.Checksum), k.VerifyChecksum(key))
	x, _ := got.XML()
	fmt.Println(x)
	// Output:
	// 550 byte pssh box
	// 4.0.0.0 10000000-1000-1000-1000-100000000001 AAAAEAAQABAQABAAAAAAAQ== 5TzIYQ2hrOY= true
	// <WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="4.0.0.0"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>AAAAEAAQABAQABAAAAAAAQ==</KID><CHECKSUM>5TzIYQ2hrOY=</CHECKSUM></DATA></WRMHEADER>
}

// Parse the header spec's WRMHEADER 4.2.0.0 example (§3.4.2).
func ExampleParseHeaderXML() {
	h, err := pro.ParseHeaderXML(`<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="4.2.0.0"><DATA><PROTECTINFO><KIDS><KID ALGID="AESCTR" CHECKSUM="xNvWVxoWk04=" VALUE="0IbHou/5s0yzM80yOkKEpQ=="></KID><KID ALGID="AESCTR" CHECKSUM="GnKaQIRacPU=" VALUE="/qgG2xbs4k2SKCxx6bhWqw=="></KID></KIDS></PROTECTINFO><LA_URL>http://rm.contoso.com/rightsmanager.asmx</LA_URL><DS_ID>AH+03juKbUGbHl1V/QIwRA==</DS_ID></DATA></WRMHEADER>`)
	if err != nil {
		panic(err)
	}
	for _, k := range h.KIDs {
		fmt.Println(k.ID, k.AlgID)
	}
	fmt.Println(h.LAURL)
	// Output:
	// a2c786d0-f9ef-4cb3-b333-cd323a4284a5 AESCTR
	// db06a8fe-ec16-4de2-9228-2c71e9b856ab AESCTR
	// http://rm.contoso.com/rightsmanager.asmx
}
