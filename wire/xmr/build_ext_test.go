package xmr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Extensible restrictions and rights, and the Read and Execute rights,
// round-trip through Parse with the flags the issuer asked for.
func TestBuildExtensibleAndRights(t *testing.T) {
	tp := minimalTemplate(t)
	tp.Read, tp.Execute = true, true
	tp.Restrictions = []ExtensibleRestriction{
		{Type: 0x0400, MustUnderstand: true, Data: []byte{2}},
		{Type: 0x0401, BestEffort: true},
	}
	tp.ExtensibleRights = []ExtensibleRight{{Type: 0x0500, Restrictions: []ExtensibleRestriction{{Type: 0x0600, MustUnderstand: true, BestEffort: true, Data: []byte{1, 2}}}}}
	l, err := Parse(build(t, tp))
	require.NoError(t, err)

	pb := l.Outer.Child(TypePlaybackPolicyContainer)
	require.NotNil(t, pb)
	r1 := pb.Child(0x0400)
	require.NotNil(t, r1)
	require.Equal(t, FlagAllowExternalParse|FlagMustUnderstand, r1.Flags)
	require.Equal(t, []byte{2}, r1.Body)
	r2 := pb.Child(0x0401)
	require.NotNil(t, r2)
	require.Equal(t, FlagAllowExternalParse|FlagBestEffort, r2.Flags)

	require.NotNil(t, l.Outer.Child(TypeReadPolicyContainer))
	ex := l.Outer.Child(TypeExecutePolicyContainer)
	require.NotNil(t, ex)
	require.NotNil(t, ex.Child(TypeExecutePolicy))

	right := l.Outer.Child(0x0500)
	require.NotNil(t, right)
	require.Equal(t, flagsCE, right.Flags)
	inner := right.Child(0x0600)
	require.NotNil(t, inner)
	require.Equal(t, FlagAllowExternalParse|FlagMustUnderstand|FlagBestEffort, inner.Flags)
	require.Equal(t, []byte{1, 2}, inner.Body)
}

func TestBuildRejectsDefinedExtensibleTypes(t *testing.T) {
	for name, tweak := range map[string]func(*Template){
		"restriction is OPL": func(tp *Template) { tp.Restrictions = []ExtensibleRestriction{{Type: TypeOutputProtection}} },
		"restriction type 0": func(tp *Template) { tp.Restrictions = []ExtensibleRestriction{{Type: 0}} },
		"right is playback":  func(tp *Template) { tp.ExtensibleRights = []ExtensibleRight{{Type: TypePlaybackPolicyContainer}} },
		"right holds a defined one": func(tp *Template) {
			tp.ExtensibleRights = []ExtensibleRight{{Type: 0x42, Restrictions: []ExtensibleRestriction{{Type: TypeSourceID}}}}
		},
		"restriction without play": func(tp *Template) {
			tp.Play = false
			tp.Restrictions = []ExtensibleRestriction{{Type: 0x400}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			tp := minimalTemplate(t)
			tweak(tp)
			_, err := tp.Build(testCI)
			require.Error(t, err)
		})
	}
	// An EXTENSIBLE_POLICY_RESERVED type is a valid right.
	tp := minimalTemplate(t)
	tp.ExtensibleRights = []ExtensibleRight{{Type: 0x42}}
	_, err := tp.Build(testCI)
	require.NoError(t, err)
}
