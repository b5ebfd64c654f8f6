package keywrap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfc3394Vectors are the six test vectors of RFC 3394 §4.1–§4.6
// (https://www.rfc-editor.org/rfc/rfc3394#section-4).
var rfc3394Vectors = []struct {
	name, kek, key, wrapped string
}{
	{"4.1 128-bit data, 128-bit KEK",
		"000102030405060708090A0B0C0D0E0F",
		"00112233445566778899AABBCCDDEEFF",
		"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
	{"4.2 128-bit data, 192-bit KEK",
		"000102030405060708090A0B0C0D0E0F1011121314151617",
		"00112233445566778899AABBCCDDEEFF",
		"96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
	{"4.3 128-bit data, 256-bit KEK",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		"00112233445566778899AABBCCDDEEFF",
		"64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
	{"4.4 192-bit data, 192-bit KEK",
		"000102030405060708090A0B0C0D0E0F1011121314151617",
		"00112233445566778899AABBCCDDEEFF0001020304050607",
		"031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"},
	{"4.5 192-bit data, 256-bit KEK",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		"00112233445566778899AABBCCDDEEFF0001020304050607",
		"A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"},
	{"4.6 256-bit data, 256-bit KEK",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		"00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
		"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
}

func TestRFC3394Vectors(t *testing.T) {
	for _, v := range rfc3394Vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			kek, key, want := unhex(t, v.kek), unhex(t, v.key), unhex(t, v.wrapped)
			got, err := Wrap(kek, key)
			if err != nil {
				t.Fatalf("Wrap: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Wrap = %X, want %X", got, want)
			}
			back, err := Unwrap(kek, want)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if !bytes.Equal(back, key) {
				t.Fatalf("Unwrap = %X, want %X", back, key)
			}
		})
	}
}

func TestUnwrapRejects(t *testing.T) {
	v := rfc3394Vectors[0]
	kek, wrapped := unhex(t, v.kek), unhex(t, v.wrapped)
	otherKEK := bytes.Clone(kek)
	otherKEK[15] ^= 1
	cases := map[string]struct{ kek, wrapped []byte }{
		"wrong kek":      {otherKEK, wrapped},
		"flipped iv":     {kek, flip(wrapped, 0)},
		"flipped key":    {kek, flip(wrapped, 20)},
		"truncated":      {kek, wrapped[:16]},
		"not 8-aligned":  {kek, append(bytes.Clone(wrapped), 0)},
		"empty":          {kek, nil},
		"extra block":    {kek, append(bytes.Clone(wrapped), make([]byte, 8)...)},
		"swapped blocks": {kek, swap(wrapped)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Unwrap(c.kek, c.wrapped)
			if !errors.Is(err, ErrUnwrap) {
				t.Fatalf("err = %v, want ErrUnwrap", err)
			}
			if got != nil {
				t.Fatal("Unwrap returned bytes on error")
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x80
	return c
}

func swap(b []byte) []byte {
	c := bytes.Clone(b)
	copy(c[8:16], b[16:24])
	copy(c[16:24], b[8:16])
	return c
}

func TestBadInputs(t *testing.T) {
	kek := make([]byte, 16)
	for name, c := range map[string]struct{ kek, key []byte }{
		"short key":   {kek, make([]byte, 8)},
		"odd key":     {kek, make([]byte, 20)},
		"bad kek len": {make([]byte, 15), make([]byte, 16)},
	} {
		if out, err := Wrap(c.kek, c.key); err == nil || out != nil {
			t.Errorf("%s: Wrap = %x, %v; want error", name, out, err)
		}
	}
	if out, err := Unwrap(make([]byte, 15), make([]byte, 24)); err == nil || out != nil {
		t.Errorf("Unwrap with a 15-byte KEK = %x, %v; want error", out, err)
	}
}

// TestFuzzCorpus commits (with -update) the RFC 3394 vectors as the seeds
// of FuzzUnwrap and checks them.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzUnwrap")
	for i, v := range rfc3394Vectors {
		path := filepath.Join(dir, fmt.Sprintf("rfc3394-4.%d", i+1))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", unhex(t, v.kek), unhex(t, v.wrapped))
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("%s is missing or stale (rerun with -update): %v", path, err)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the committed fuzz seeds")

// FuzzUnwrap checks that Unwrap never panics, returns nil on error, and
// that whatever unwraps wraps back to the same bytes. Seeds: the RFC 3394
// vectors under testdata/fuzz/FuzzUnwrap.
func FuzzUnwrap(f *testing.F) {
	if e, _ := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzUnwrap")); len(e) == 0 {
		f.Fatal("no committed seeds for FuzzUnwrap")
	}
	f.Fuzz(func(t *testing.T, kek, wrapped []byte) {
		key, err := Unwrap(kek, wrapped)
		if err != nil {
			if key != nil {
				t.Fatal("bytes returned on error")
			}
			return
		}
		again, err := Wrap(kek, key)
		if err != nil || !bytes.Equal(again, wrapped) {
			t.Fatalf("re-wrap differs: %v", err)
		}
	})
}
