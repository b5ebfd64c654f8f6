package kid_test

import (
	"fmt"

	"github.com/prsim/prsim/wire/kid"
)

// The same KID in its two byte orders (PlayReady Header spec v4.2 example).
func Example() {
	id, _ := kid.Parse("0IbHou/5s0yzM80yOkKEpQ==") // WRMHEADER VALUE: LE GUID bytes
	fmt.Println(id)                                // printed UUID, CENC order
	fmt.Println(id.Hex())                          // tenc default_KID bytes
	fmt.Println(id.Base64GUID())
	// Output:
	// a2c786d0-f9ef-4cb3-b333-cd323a4284a5
	// a2c786d0f9ef4cb3b333cd323a4284a5
	// 0IbHou/5s0yzM80yOkKEpQ==
}
