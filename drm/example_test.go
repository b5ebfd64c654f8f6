package drm_test

import (
	"errors"
	"fmt"

	"github.com/prsim/prsim/drm"
)

func ExampleCodeOf() {
	err := fmt.Errorf("tee: license needs security level 3000: %w", drm.ErrDeviceSecurityLevelTooLow)
	fmt.Println(errors.Is(err, drm.ErrDeviceSecurityLevelTooLow))
	c, _ := drm.CodeOf(err)
	fmt.Println(c, c.Hex())
	// Output:
	// true
	// DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW (0x8004A004) 0x8004a004
}
