// Package testmedia generates small, deterministic, PlayReady-protected DASH
// content in pure Go, for `prsim demo`, REE tests and benchmarks. It needs no
// ffmpeg or packager: the media are synthetic, built and encrypted with
// github.com/Eyevinn/mp4ff (spec/media.md §2) and described by a manifest
// written with github.com/Eyevinn/dash-mpd (spec/media.md §3).
//
// # Content
//
// [Generate] writes, into one directory:
//
//	manifest.mpd                   static DASH manifest, one Period, two AdaptationSets
//	video_init.mp4, video_N.m4s    AVC (avc1, 256×144, 25 fps), 1 s segments starting with an IDR
//	audio_init.mp4, audio_N.m4s    AAC-LC (mp4a.40.2, 48 kHz stereo), 1024-sample frames
//	video_clear.mp4, audio_clear.mp4   the same tracks unencrypted (init followed by all segments)
//
// Segments are numbered from 1 and each holds one styp and one moof+mdat,
// no sidx. Each decrypts on its own after its init segment, which is how
// DASH players fetch them, and ffmpeg 5.1 and mp4ff agree with the clear
// reference then; ffmpeg 5.1 mis-decrypts a concatenation of several
// encrypted segments without sidx (spec/media.md §4), mp4ff does not. The samples are not decodable pictures or sounds: each video
// sample is an access unit delimiter followed by one or two slice NAL units
// whose slice headers are valid for the fixed SPS/PPS (so that mp4ff's cbcs
// subsample logic can parse them) and whose slice data is pseudo-random;
// each audio sample is 100–400 pseudo-random bytes. Every output byte is a
// function of [Options], so two runs give identical files.
//
// # Protection
//
// Video and audio are encrypted with separate keys (one KID per track), as
// shaka-packager does (spec/media.md §4):
//
//   - cenc: AES-CTR, tenc with 8-byte per-sample IVs, AVC subsample
//     encryption; WRMHEADER 4.0.0.0 with ALGID AESCTR and the CHECKSUM of
//     header spec §5 (spec/pro-header.md §6).
//   - cbcs: AES-CBC with a constant 16-byte IV, video 1:9 pattern over the
//     slice data, audio whole-sample (senc omitted, as mp4ff does);
//     WRMHEADER 4.3.0.0 with ALGID AESCBC and no CHECKSUM.
//
// Each track's header names only that track's KID. It is carried in a PRO
// (pro-header.md §1) inside a version-0 `pssh` box (pro-header.md §2) in the
// track's moov, and in the manifest both as `cenc:pssh` and as `mspr:pro`
// (pro-header.md §3).
//
// # Security considerations
//
// The content keys in [Options] are test keys: they end up, by design, in
// whatever test or demo uses the output. Never pass a production key. The
// pseudo-random generator (math/rand/v2 PCG) is used for payloads and IVs
// only because the output must be reproducible; IVs are unique per sample
// (cenc) but predictable, which is acceptable only for test content.
package testmedia
