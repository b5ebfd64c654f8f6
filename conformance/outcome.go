package conformance

import (
	"errors"
	"fmt"
)

// outcome is what a scenario function returns.
type outcome struct {
	status   Status
	expected string
	seen     string
	note     string // skipped / error reason, or a pass remark
}

func passed(note string) outcome { return outcome{status: Pass, note: note} }

func failed(expected, seen string) outcome {
	return outcome{status: Fail, expected: expected, seen: seen}
}

func skipped(why string) outcome { return outcome{status: Skipped, note: why} }

func errored(format string, a ...any) outcome {
	return outcome{status: Error, note: fmt.Sprintf(format, a...)}
}

// detail is the one-line report text.
func (o outcome) detail() string {
	if o.status == Fail {
		return fmt.Sprintf("expected %s; seen %s", o.expected, o.seen)
	}
	return o.note
}

// needsPolicy is the skip of a scenario that needs cfg under ProfileNone,
// or under ProfileEntitlement when a message cannot say it.
func needsPolicy(cfg string) outcome {
	return skipped(fmt.Sprintf("profile none or entitlement: the scenario needs the policy cfg=%s, which the profile does not send", cfg))
}

// failedOrErrored: a request that got no HTTP answer fails (the server
// dropped or choked on it); anything else is the runner's error.
func failedOrErrored(want string, err error) outcome {
	var te *transportError
	if errors.As(err, &te) {
		return failed(want, te.Error())
	}
	return errored("%v", err)
}
