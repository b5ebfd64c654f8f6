package clock_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/clock"
)

func TestSystemAndFunc(t *testing.T) {
	before := time.Now()
	got := clock.System().Now()
	require.False(t, got.Before(before))
	fixed := time.Unix(1700000000, 0)
	require.Equal(t, fixed, clock.Func(func() time.Time { return fixed }).Now())
}

func ExampleFunc() {
	c := clock.Func(func() time.Time { return time.Unix(0, 0).UTC() })
	fmt.Println(c.Now().Format(time.RFC3339))
	// Output: 1970-01-01T00:00:00Z
}
