package testmedia

import "math/rand/v2"

// The pictures: 75 % colour bars over the top seven macroblock rows, a box
// bouncing left and right across them, and a black strip in the bottom two
// macroblock rows with a seven-segment clock "SSSS:FF" (seconds and frame
// within the second of the presentation time). The box and the clock are
// the only things that move, so a non-IDR picture codes only the
// macroblocks they touch (see avc.go).

// picture is one 4:2:0 picture, 8 bits per sample, BT.601 limited range.
type picture struct {
	y      [videoWidth * videoHeight]byte
	cb, cr [videoWidth * videoHeight / 4]byte
}

// yuv is a BT.601 limited-range colour.
type yuv struct{ y, cb, cr byte }

// rgb converts 8-bit full-range R'G'B' to BT.601 limited-range Y'CbCr
// (ITU-R BT.601 matrix; Y' 16..235, Cb/Cr 16..240), rounded, in integers
// so that the result does not depend on floating-point contraction.
func rgb(r, g, b int) yuv {
	const d = 255000
	y := (16*d + 65481*r + 128553*g + 24966*b + d/2) / d
	cb := (128*d - 37797*r - 74203*g + 112000*b + d/2) / d
	cr := (128*d + 112000*r - 93786*g - 18214*b + d/2) / d
	return yuv{byte(y), byte(cb), byte(cr)}
}

// Layout, in pixels. Everything that changes is confined to whole
// macroblocks as far as possible: the clock's cells are one macroblock
// wide and two high, the box spans two macroblock rows.
const (
	barRows    = 7 * 16 // bars from y 0 to 111; the clock strip below
	barWidth   = videoWidth / 8
	boxSize    = 32
	boxTop     = 3 * 16
	boxStep    = 4 // pixels per picture: 100 px/s
	boxBorder  = 2
	clockLeft  = 4 * 16 // cells "S S S S : F F" at macroblock columns 4..10
	clockTop   = barRows
	cellWidth  = 16
	cellHeight = 32
	segThick   = 3
)

// scene is what the seed chooses about the pictures.
type scene struct {
	boxStart int // box position in the bounce cycle at picture 0
	boxColor yuv
}

// newScene draws a scene.
func newScene(r *rand.Rand) scene {
	palette := [...]yuv{rgb(255, 128, 0), rgb(255, 105, 180), rgb(160, 160, 160), rgb(0, 200, 255), rgb(128, 255, 0)}
	// A multiple of boxStep, so that the box touches both edges exactly.
	return scene{boxStart: boxStep * r.IntN(2*(videoWidth-boxSize)/boxStep), boxColor: palette[r.IntN(len(palette))]}
}

// render draws picture n (counted from 0 over the whole presentation) into p.
func (s scene) render(p *picture, n int) {
	bars := [8]yuv{rgb(191, 191, 191), rgb(191, 191, 0), rgb(0, 191, 191), rgb(0, 191, 0),
		rgb(191, 0, 191), rgb(191, 0, 0), rgb(0, 0, 191), rgb(0, 0, 0)}
	for x := 0; x < videoWidth; x += barWidth {
		p.fill(x, 0, barWidth, barRows, bars[x/barWidth])
	}
	black, white := rgb(0, 0, 0), rgb(255, 255, 255)
	p.fill(0, barRows, videoWidth, videoHeight-barRows, black)

	// The box bounces: its x is a triangle wave of period 2·(W−box).
	period := 2 * (videoWidth - boxSize)
	u := (s.boxStart + boxStep*n) % period
	x := u
	if u > videoWidth-boxSize {
		x = period - u
	}
	p.fill(x, boxTop, boxSize, boxSize, black)
	p.fill(x+boxBorder, boxTop+boxBorder, boxSize-2*boxBorder, boxSize-2*boxBorder, s.boxColor)

	secs, frame := n/videoFPS, n%videoFPS
	digits := [...]int{secs / 1000 % 10, secs / 100 % 10, secs / 10 % 10, secs % 10, -1, frame / 10, frame % 10}
	for i, d := range digits {
		cx := clockLeft + i*cellWidth
		if d < 0 { // the colon
			p.fill(cx+6, clockTop+9, 4, 4, white)
			p.fill(cx+6, clockTop+19, 4, 4, white)
			continue
		}
		p.digit(cx, clockTop, d, white)
	}
}

// segments returns the seven-segment pattern of d: bit i lights segment
// "abcdefg"[i] (a at the top, then clockwise, g in the middle).
func segments(d int) uint8 {
	return [10]uint8{0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f}[d]
}

// digit draws d in the 16×32 cell whose top-left corner is (x, y).
func (p *picture) digit(x, y, d int, c yuv) {
	const (
		l, r     = 3, 16 - 3 - segThick // left and right column of the verticals
		top, mid = 3, (cellHeight - segThick) / 2
		bot      = cellHeight - 3 - segThick
		hl       = r + segThick - l // horizontal segment length
	)
	seg := segments(d)
	on := func(i int) bool { return seg&(1<<i) != 0 }
	if on(0) {
		p.fill(x+l, y+top, hl, segThick, c)
	}
	if on(1) {
		p.fill(x+r, y+top, segThick, mid+segThick-top, c)
	}
	if on(2) {
		p.fill(x+r, y+mid, segThick, bot+segThick-mid, c)
	}
	if on(3) {
		p.fill(x+l, y+bot, hl, segThick, c)
	}
	if on(4) {
		p.fill(x+l, y+mid, segThick, bot+segThick-mid, c)
	}
	if on(5) {
		p.fill(x+l, y+top, segThick, mid+segThick-top, c)
	}
	if on(6) {
		p.fill(x+l, y+mid, hl, segThick, c)
	}
}

// fill paints the rectangle (x, y, w, h), clipped to the picture. Chroma
// is painted for the 2×2 luma blocks whose top-left sample is inside, so
// that rectangles with even coordinates (all of them here) are exact.
func (p *picture) fill(x, y, w, h int, c yuv) {
	x0, y0 := max(x, 0), max(y, 0)
	x1, y1 := min(x+w, videoWidth), min(y+h, videoHeight)
	for j := y0; j < y1; j++ {
		row := p.y[j*videoWidth:]
		for i := x0; i < x1; i++ {
			row[i] = c.y
		}
	}
	for j := (y0 + 1) / 2; j < (y1+1)/2; j++ {
		for i := (x0 + 1) / 2; i < (x1+1)/2; i++ {
			p.cb[j*videoWidth/2+i] = c.cb
			p.cr[j*videoWidth/2+i] = c.cr
		}
	}
}

// sameMB reports whether macroblock mb (raster address) is identical in p
// and q.
func (p *picture) sameMB(q *picture, mb int) bool {
	x, y := mb%(videoWidth/16)*16, mb/(videoWidth/16)*16
	for j := range 16 {
		o := (y+j)*videoWidth + x
		if [16]byte(p.y[o:o+16]) != [16]byte(q.y[o:o+16]) {
			return false
		}
	}
	for j := range 8 {
		o := (y/2+j)*videoWidth/2 + x/2
		if [8]byte(p.cb[o:o+8]) != [8]byte(q.cb[o:o+8]) || [8]byte(p.cr[o:o+8]) != [8]byte(q.cr[o:o+8]) {
			return false
		}
	}
	return true
}
