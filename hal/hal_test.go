package hal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/hal"
)

func TestWallClock(t *testing.T) {
	now := time.Unix(1700000000, 0)
	w := hal.NewWallClock(clock.Func(func() time.Time { return now }))
	require.Equal(t, now, w.Now())
	w.Advance(-time.Hour)
	require.Equal(t, now.Add(-time.Hour), w.Now())
	target := time.Unix(1800000000, 0)
	w.Set(target)
	require.Equal(t, target, w.Now())
	now = now.Add(time.Minute) // the base keeps running under the offset
	require.Equal(t, target.Add(time.Minute), w.Now())
}

func ExampleWallClock() {
	base := clock.Func(func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) })
	w := hal.NewWallClock(base)
	w.Advance(-48 * time.Hour) // the user rolls the clock back two days
	fmt.Println(w.Now().Format(time.DateOnly))
	// Output: 2026-11-20
}
