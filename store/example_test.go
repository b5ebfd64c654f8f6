package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prsim/prsim/store"
	"github.com/prsim/prsim/wire/kid"
)

func Example() {
	dir, _ := os.MkdirTemp("", "prsim-store-")
	defer os.RemoveAll(dir)
	s, _ := store.Open(filepath.Join(dir, "store.db"))
	defer s.Close()
	id := kid.MustParse("10000000-1000-1000-1000-100000000001")
	_ = s.PutLicense(store.License{KID: id, LID: [16]byte{1}, Stored: time.Now(), XMR: []byte("XMR\x00…")})
	ls, _ := s.LicensesFor(id)
	fmt.Println(len(ls), ls[0].KID)
	// Output: 1 10000000-1000-1000-1000-100000000001
}
