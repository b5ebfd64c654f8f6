package testmedia_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/prsim/prsim/internal/testmedia"
	"github.com/prsim/prsim/wire/kid"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "testmedia")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	c, err := testmedia.Generate(testmedia.Options{
		Dir:    dir,
		Scheme: testmedia.SchemeCENC,
		// Test keys only (docs/formats/pro-header.md §8).
		Video: testmedia.Track{KID: kid.MustParse("10000000-1000-1000-1000-100000000001"),
			Key: [16]byte{0x3a, 0x2a, 0x1b, 0x68, 0xdd, 0x2b, 0xd9, 0xb2, 0xee, 0xb2, 0x5e, 0x84, 0xc4, 0x77, 0x66, 0x68}},
		Audio: testmedia.Track{KID: kid.MustParse("db06a8fe-ec16-4de2-9228-2c71e9b856ab"),
			Key: [16]byte{0x31, 0x79, 0x92, 0x3a, 0xdf, 0x3c, 0x92, 0x98, 0x92, 0x95, 0x1e, 0x62, 0xf9, 0x3a, 0x51, 0x8a}},
		LAURL: "http://127.0.0.1:8080/rightsmanager.asmx",
		Seed:  1,
	})
	if err != nil {
		panic(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}
	fmt.Println(len(c.Clear[testmedia.Video]), "video and", len(c.Clear[testmedia.Audio]), "audio samples")
	// Output:
	// audio_1.m4s
	// audio_2.m4s
	// audio_3.m4s
	// audio_clear.mp4
	// audio_init.mp4
	// manifest.mpd
	// video_1.m4s
	// video_2.m4s
	// video_3.m4s
	// video_clear.mp4
	// video_init.mp4
	// 75 video and 141 audio samples
}
