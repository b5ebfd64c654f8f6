package policy_test

import (
	"os"
	"testing"

	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/policy"
	"github.com/prsim/prsim/wire/xmr"
)

const everyOutput = "internal;hdmi:hdcp=2.2,type1;displayport;component:cgmsa,agc;composite;vga;spdif:scms;miracast;airplay;dtcp;unknown;decoder:max=1920x1080"

// FuzzEvaluate feeds licenses (as bytes) and output specs to Evaluate: no
// panic, and every decision is consistent with its strategy. The seeds
// under testdata/fuzz/FuzzEvaluate are the XMR package's test licenses.
func FuzzEvaluate(f *testing.F) {
	if seeds, err := os.ReadDir("testdata/fuzz/FuzzEvaluate"); err != nil || len(seeds) == 0 {
		f.Fatalf("no committed seeds under testdata/fuzz/FuzzEvaluate: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte, spec string) {
		l, err := xmr.Parse(data)
		if err != nil {
			return
		}
		p, err := hal.ParseOutputs(spec)
		if err != nil {
			p, _ = hal.ParseOutputs(everyOutput)
		}
		pol := l.Policy()
		for _, cs := range [][]xmr.OutputConfig{pol.AnalogVideo, pol.DigitalAudio, pol.DigitalVideo} {
			for _, c := range cs {
				_ = xmr.DescribeConfig(c.ID, c.Data)
			}
		}
		for _, version := range []string{"2.0", "4.5"} {
			for _, strategy := range []policy.Strategy{policy.StrategyBlock, policy.StrategyRefuse} {
				for _, stream := range []policy.Stream{policy.AllStreams, policy.Video, policy.Audio} {
					d := policy.Evaluate(l, policy.Request{Persona: policy.Persona{Version: version, SecurityLevel: 3000},
						Platform: p, Strategy: strategy, Stream: stream})
					check(t, d, strategy)
				}
			}
		}
	})
}

func check(t *testing.T, d policy.Decision, strategy policy.Strategy) {
	if d.Refused != (d.Err() != nil) || d.Refused != (d.Code != 0) || d.Refused != (d.Reason != "") {
		t.Fatalf("inconsistent refusal: %+v", d)
	}
	blocked := 0
	for _, o := range d.Outputs {
		if o.Action < policy.Pass || o.Action > policy.Block || o.Reason == "" || o.Protections == nil {
			t.Fatalf("bad output decision %+v", o)
		}
		if o.Action == policy.Block {
			blocked++
		}
	}
	if d.Outputs != nil && !d.Refused && (blocked == len(d.Outputs) || (strategy == policy.StrategyRefuse && blocked > 0)) {
		t.Fatalf("not refused with %d of %d outputs blocked under %s", blocked, len(d.Outputs), strategy)
	}
}
