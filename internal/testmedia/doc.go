// Package testmedia makes small, deterministic, PlayReady-protected DASH
// content in pure Go, for `prsim demo`, `prsim content make`, REE tests and
// benchmarks. It needs no ffmpeg and no packager: it encodes real, playable
// media itself, packages and encrypts it with github.com/Eyevinn/mp4ff
// (docs/formats/media.md §2) and describes it with a manifest written with
// github.com/Eyevinn/dash-mpd (docs/formats/media.md §3).
//
// # Content
//
// [Generate] writes, into one directory:
//
//	manifest.mpd                   static DASH manifest, one Period, two AdaptationSets
//	video_init.mp4, video_N.m4s    H.264 (avc1.42C01F, 256×144, 25 fps), 1 s segments starting with an IDR picture
//	audio_init.mp4, audio_N.m4s    AAC-LC (mp4a.40.2, 48 kHz stereo), 1024-sample frames
//	video_clear.mp4, audio_clear.mp4   the same tracks unencrypted (init followed by all segments)
//
// Segments are numbered from 1 and each holds one styp and one moof+mdat,
// no sidx. Each decrypts on its own after its init segment, which is how
// DASH players fetch them; ffmpeg 5.1 mis-decrypts a concatenation of
// several encrypted segments without sidx (docs/formats/media.md §4), mp4ff
// does not.
//
// # What a viewer sees and hears
//
// The video shows 75 % colour bars, a box bouncing across them at 100
// pixels a second, and a clock "SSSS:FF" (seconds and frame number) in a
// black strip at the bottom. The audio is a 1 kHz beep at −24 dBFS during
// the first 0.2 s of each second, silence otherwise, so the beep marks the
// moment the clock's seconds change. The seed picks the box's colour and
// starting position.
//
// Both are encoded by this package, bit by bit, with the least machinery
// that real decoders accept (avc.go and aac.go document every field):
//
//   - Video: H.264 Constrained Baseline, CAVLC. IDR pictures (two slices,
//     so that an IDR sample has two protected ranges) send every
//     macroblock as I_PCM, i.e. raw samples; the other pictures are P
//     pictures that skip every macroblock unchanged since the previous
//     picture and send the changed ones (the box, the clock digits) as
//     I_PCM. The deblocking filter is off, so decoding is exact: the tests
//     decode with ffmpeg and compare every sample with the rendered
//     pictures. An IDR picture is about 55 kB and a P picture 2–4 kB, about
//     120 kB (1 Mbit/s) a second.
//   - Audio: one AAC channel pair element per frame, either empty (silence)
//     or with a single quantized spectral line (the beep), padded by a fill
//     element to a pseudo-random 24–64 bytes, so that every frame has at
//     least one whole AES block to encrypt.
//
// Every output byte is a function of [Options], so two runs give identical
// files.
//
// # Protection
//
// Video and audio are encrypted with separate keys (one KID per track), as
// shaka-packager does (docs/formats/media.md §4):
//
//   - cenc: AES-CTR, tenc with 8-byte per-sample IVs, AVC subsample
//     encryption (NAL unit headers and slice heads clear); WRMHEADER
//     4.0.0.0 with ALGID AESCTR and a CHECKSUM (docs/formats/pro-header.md
//     §6).
//   - cbcs: AES-CBC with a constant 16-byte IV, video 1:9 pattern over the
//     slice data after each slice header, audio whole-sample (senc
//     omitted, as mp4ff does); WRMHEADER 4.3.0.0 with ALGID AESCBC and no
//     CHECKSUM.
//
// Each track's header names only that track's KID. It is carried in a PRO
// (docs/formats/pro-header.md §1) inside a version-0 `pssh` box (§2) in the
// track's moov, and in the manifest both as `cenc:pssh` and as `mspr:pro`
// (§3).
//
// # Security considerations
//
// The content keys in [Options] are test keys: they end up, by design, in
// whatever test or demo uses the output. Never pass a production key. The
// pseudo-random generator (math/rand/v2 PCG) is used for the scene, frame
// sizes and IVs only because the output must be reproducible; IVs are
// unique per sample (cenc) but predictable, which is acceptable only for
// test content.
package testmedia
