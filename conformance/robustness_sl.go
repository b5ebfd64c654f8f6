package conformance

import (
	"context"
	"fmt"
	"strings"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/wire/xmr"
)

// robustnessSLScenarios is the robustness family's security-level check
// (R1); robustnessScenarios appends it.
//
// R1 is stricter than L7. L7 accepts a license the device refuses to bind,
// because the device's own check protects the content. R1 holds the server
// to the certificate it verified: the level a device may be trusted with is
// the one its certificate carries, so a server must not hand out a license
// the certificate does not back, and says so with the code a device gives
// for the same fact. R1 passes only on a fault with that code; any license
// fails it, whatever its minimum (a server that ignores sl: and issues a
// license at 150 has not refused either).
func robustnessSLScenarios() []Scenario {
	return family(FamilyRobustness, []row{
		{"R1", Must, PersonaSL2000,
			"docs/formats/policies-and-outputs.md §1 (the device certificate carries the SL; a license above it cannot bind) " +
				"and §6 (sl); docs/formats/errors.md §3 (DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW)",
			"A license whose minimum security level is above the device certificate's level is refused by the server " +
				"with a DRM_E_DEVICE_SECURITY_LEVEL_TOO_LOW fault, never issued.",
			runR1},
	})
}

func runR1(ctx context.Context, e *env) outcome {
	x, o := e.acquireNew(ctx, request{persona: PersonaSL2000, cfg: "(sl:3000)", needed: true})
	if o != nil {
		return *o
	}
	want := "a fault with " + drm.ErrDeviceSecurityLevelTooLow.String() + " for cfg sl:3000 and an SL2000 device certificate"
	switch {
	case x.fault != nil && x.fault.Code == drm.ErrDeviceSecurityLevelTooLow:
		return passed("refused: " + x.describe())
	case x.fault != nil:
		return failed(want, x.describe())
	case x.resp == nil:
		return failed(want, x.describe())
	}
	return failed(want, fmt.Sprintf("HTTP %d response with %s for the SL2000 device", x.status, minLevels(x.resp.Licenses)))
}

// minLevels says what minimum security levels licenses carry.
func minLevels(lics [][]byte) string {
	if len(lics) == 0 {
		return "no license"
	}
	var parts []string
	for _, l := range lics {
		lic, err := xmr.Parse(l)
		if err != nil {
			parts = append(parts, "an unparsable license ("+codeText(err)+")")
			continue
		}
		parts = append(parts, fmt.Sprintf("a license of minimum SL %d", lic.MinSecurityLevel()))
	}
	return strings.Join(parts, ", ")
}
