package securestop_test

import (
	"fmt"

	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/securestop"
)

// A device reports a stopped SecureStop2 session; the server parses the list
// and verifies the MAC with the key it derives for the license.
func Example() {
	key := [16]byte{1, 2, 3} // the license's SecureStop2 key (secret)
	r := securestop.Record{
		Session:   [16]byte{0xaa},
		Publisher: [16]byte{0x5a},
		KIDs:      []kid.ID{kid.MustParse("9eb4050d-e44b-4802-932e-27d75083e266")},
		Start:     1764590000,
		Update:    1764590125,
		Stopped:   true,
	}
	r.SignSS2(key)
	wire := securestop.EncodeRecords([]securestop.Record{r})

	got, err := securestop.ParseRecords(wire)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(wire), "bytes,", len(got), "record, version", got[0].Version)
	fmt.Println("played", got[0].Update-got[0].Start, "s, verified:", got[0].VerifySS2(key))
	// Output:
	// 91 bytes, 1 record, version 2
	// played 125 s, verified: true
}
