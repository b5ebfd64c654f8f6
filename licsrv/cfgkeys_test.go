package licsrv_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prsim/prsim/drm"
	"github.com/prsim/prsim/licsrv"
	"github.com/prsim/prsim/wire/kid"
	"github.com/prsim/prsim/wire/xmr"
)

// Each cfg key of docs/formats/policies-and-outputs.md §6 either lands in
// the license as its XMR object or is refused with a reason naming it.
func TestCfgKeysEncode(t *testing.T) {
	f := newFixture(t, 3000)
	one := func(t *testing.T, version, cfg string) *xmr.License {
		t.Helper()
		w, body, _ := f.send(t, req{version: version, query: "?cfg=" + cfg})
		ls := licenses(t, w, body)
		require.Len(t, ls, 1)
		return ls[0]
	}
	date := func(y int, m time.Month, d int) uint32 {
		return uint32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix())
	}
	guid := kid.MustParse
	for _, tc := range []struct {
		cfg   string
		check func(t *testing.T, l *xmr.License)
	}{
		{"(sl:3000)", func(t *testing.T, l *xmr.License) { require.Equal(t, uint16(3000), l.Policy().MinSecurityLevel) }},
		{"(kid:" + kidA.String() + ",ckt:aes128bitcbc)", func(t *testing.T, l *xmr.License) {
			ck, err := l.ContentKey()
			require.NoError(t, err)
			require.Equal(t, kidA, ck.KID)
			require.Equal(t, uint16(xmr.KeyTypeAESCBC), ck.KeyType)
		}},
		{"(persist:true)", func(t *testing.T, l *xmr.License) { require.True(t, l.Persistent()) }},
		{"(simple:true)", func(t *testing.T, l *xmr.License) { require.False(t, l.Persistent()) }},
		{"(playright:true)", func(t *testing.T, l *xmr.License) { require.True(t, l.Policy().Play) }},
		{"(begindate:20200101,enddate:20400101)", func(t *testing.T, l *xmr.License) {
			require.Equal(t, &xmr.Expiration{Begin: date(2020, 1, 1), End: date(2040, 1, 1)}, l.Policy().Expiration)
		}},
		{"(expiration:20400101120000)", func(t *testing.T, l *xmr.License) {
			require.Equal(t, date(2040, 1, 1)+12*3600, l.Policy().Expiration.End)
		}},
		{"(firstexp:60,realtime:true,removaldate:20400101)", func(t *testing.T, l *xmr.License) {
			p := l.Policy()
			require.Equal(t, uint32(60), *p.ExpireAfterFirstPlay)
			require.True(t, p.RealTimeExpiration)
			require.Equal(t, date(2040, 1, 1), *p.RemovalDate)
		}},
		{"(sourceid:258)", func(t *testing.T, l *xmr.License) { require.Equal(t, uint32(258), *l.Policy().SourceID) }},
		{"(cvopl:500,ucvopl:300,avopl:200,caopl:250,ucaopl:150)", func(t *testing.T, l *xmr.License) {
			require.Equal(t, &xmr.OPL{CompressedDigitalVideo: 500, UncompressedDigitalVideo: 300, AnalogVideo: 200,
				CompressedDigitalAudio: 250, UncompressedDigitalAudio: 150}, l.Policy().OPL)
		}},
		{"(dvop:(guid:ABB2C6F1-E663-4625-A945-972D17B231E7,data:AAAAAQ==),daop:(guid:6D5CFA59-C250-4426-930E-FAC72C8FCFA6)," +
			"avop:(guid:760AE755-682A-41E0-B1B3-DCDF836A7306,data:AAAAAQ==),explicitacp:2,maxres:1280x720)", func(t *testing.T, l *xmr.License) {
			p := l.Policy()
			require.Equal(t, []xmr.OutputConfig{{ID: guid("ABB2C6F1-E663-4625-A945-972D17B231E7"), Data: []byte{0, 0, 0, 1}},
				{ID: guid("9645E831-E01D-4FFF-8342-0A720E3E028F"), Data: []byte{0, 0, 5, 0, 0, 0, 2, 0xd0}}}, p.DigitalVideo)
			require.Equal(t, []xmr.OutputConfig{{ID: guid("6D5CFA59-C250-4426-930E-FAC72C8FCFA6"), Data: []byte{}}}, p.DigitalAudio)
			require.Equal(t, []xmr.OutputConfig{{ID: guid("760AE755-682A-41E0-B1B3-DCDF836A7306"), Data: []byte{0, 0, 0, 1}},
				{ID: guid("C3FD11C6-F8B7-4D20-B008-1DB17D61F2DA"), Data: []byte{2, 0, 0, 0}}}, p.AnalogVideo)
		}},
		{"(playenablers:(5ABF0F0D-DC29-4B82-9982-FD8E57525BFC),allowunknownhd:true,allowunknownsd:true)", func(t *testing.T, l *xmr.License) {
			require.Equal(t, []kid.ID{guid("5ABF0F0D-DC29-4B82-9982-FD8E57525BFC"), guid("786627D8-C2A6-44BE-8F88-08AE255B01A7"),
				guid("B621D91F-EDCC-4035-8D4B-DC71760D43E9")}, l.Policy().PlayEnablers)
		}},
		{"(extendedrestrictions:((type:400,mustunderstand:true,besteffort:false,data:Ag==),(type:401,mustunderstand:false,besteffort:true)))", func(t *testing.T, l *xmr.License) {
			pb := l.Outer.Child(xmr.TypePlaybackPolicyContainer)
			a, b := pb.Child(400), pb.Child(401)
			require.NotNil(t, a)
			require.NotNil(t, b)
			require.Equal(t, xmr.FlagAllowExternalParse|xmr.FlagMustUnderstand, a.Flags)
			require.Equal(t, []byte{2}, a.Body)
			require.Equal(t, xmr.FlagAllowExternalParse|xmr.FlagBestEffort, b.Flags)
			require.Len(t, l.Policy().Unknown, 2)
		}},
		{"(extendedright:(type:1000,extended:((type:400,mustunderstand:true,besteffort:true,data:AQ==))))", func(t *testing.T, l *xmr.License) {
			r := l.Outer.Child(1000)
			require.NotNil(t, r)
			require.Equal(t, xmr.FlagContainer|xmr.FlagAllowExternalParse, r.Flags)
			c := r.Child(400)
			require.NotNil(t, c)
			require.Equal(t, xmr.FlagAllowExternalParse|xmr.FlagMustUnderstand|xmr.FlagBestEffort, c.Flags)
			require.Equal(t, []byte{1}, c.Body)
		}},
		{"(isroot:false,readright:false,executeright:false)", func(t *testing.T, l *xmr.License) {
			require.Nil(t, l.Outer.Child(xmr.TypeReadPolicyContainer))
			require.Nil(t, l.Outer.Child(xmr.TypeExecutePolicyContainer))
		}},
	} {
		t.Run(tc.cfg, func(t *testing.T) { tc.check(t, one(t, "4.5.0.0", tc.cfg)) })
	}

	// Read and Execute rights are written for a PlayReady 2.x client.
	l := one(t, "2.0.0.0", "(readright:true,executeright:true)")
	require.NotNil(t, l.Outer.Child(xmr.TypeReadPolicyContainer))
	require.NotNil(t, l.Outer.Child(xmr.TypeExecutePolicyContainer).Child(xmr.TypeExecutePolicy))
	require.True(t, l.Policy().Play)
}

func TestCfgKeysRefused(t *testing.T) {
	f := newFixture(t, 3000)
	for _, tc := range []struct{ version, cfg, reason string }{
		{"4.5.0.0", "(readright:true)", `cfg readright: readright is not supported by PlayReady 3.0+ clients (client version "4.5.0.0")`},
		{"10.0.16384.10011", "(executeright:true)", `cfg executeright: executeright is not supported by PlayReady 3.0+ clients (client version "10.0.16384.10011")`},
		{"3.0.0.0", "(readright:true,executeright:true)", `cfg readright: readright is not supported by PlayReady 3.0+ clients (client version "3.0.0.0")`},
		{"4.5.0.0", "(accountid:B6E39626-1CFB-4AA1-BCBD-4EF1ABA7843A)", "cfg accountid: domain-bound licenses are not supported (prsim has no domains)"},
		{"4.5.0.0", "(isroot:true)", "cfg isroot: chained (root/leaf) licenses are not supported by prsim's reference server"},
		{"4.5.0.0", "(rootid:B6E39626-1CFB-4AA1-BCBD-4EF1ABA7843A)", "cfg rootid: chained (root/leaf) licenses are not supported by prsim's reference server"},
		{"4.5.0.0", "(ckt:keyexchange)", "cfg ckt: keyexchange (PlayReady 4.5 Key Exchange licenses) is not supported by prsim's reference server"},
		{"4.5.0.0", "(simple:true,persist:true)", "cfg simple: simple:true asks for a non-persistent license, which contradicts persist:true"},
		{"4.5.0.0", "(sourceid:70000)", `cfg sourceid: "70000" is not a source ID (0 to 65535)`},
		{"4.5.0.0", "(extendedrestrictions:((type:5,mustunderstand:true)))", "cfg extendedrestrictions: type 5 is an XMR object type prsim defines (OUTPUT_PROTECTION); an extensible restriction needs another type"},
		{"4.5.0.0", "(extendedrestrictions:((mustunderstand:true)))", "cfg extendedrestrictions: a restriction needs type:N"},
		{"4.5.0.0", "(extendedrestrictions:((type:400,mustunderstand:maybe)))", `cfg extendedrestrictions: mustunderstand "maybe" is not true or false`},
		{"4.5.0.0", "(extendedrestrictions:((type:400,data:!!)))", `cfg extendedrestrictions: data "!!" is not base64`},
		{"4.5.0.0", "(extendedright:(type:18))", "cfg extendedright: type 18 is an XMR object type prsim defines (EXPIRATION); an extensible right needs another type"},
		{"4.5.0.0", "(extendedright:(extended:((type:400))))", "cfg extendedright: needs type:N"},
	} {
		t.Run(tc.cfg, func(t *testing.T) {
			w, body, _ := f.send(t, req{version: tc.version, query: "?cfg=" + tc.cfg})
			require.Equal(t, tc.reason, entFault(t, w, body, drm.ErrServerInvalidMessage))
		})
	}
}

func TestDefectMisEncodeOPL(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectMisEncodeOPL)
		w, body, _ := f.send(t, req{query: "?cfg=(ucvopl:300,avopl:30)"})
		o := licenses(t, w, body)[0].Policy().OPL
		if bad {
			require.Equal(t, &xmr.OPL{UncompressedDigitalVideo: 250}, o)
		} else {
			require.Equal(t, &xmr.OPL{UncompressedDigitalVideo: 300, AnalogVideo: 30}, o)
		}
	}
}

func TestDefectDropPlayEnabler(t *testing.T) {
	for _, bad := range []bool{false, true} {
		f := defectFixture(t, bad, licsrv.DefectDropPlayEnabler)
		w, body, _ := f.send(t, req{query: "?cfg=(allowunknownhd:true)"})
		pe := licenses(t, w, body)[0].Policy().PlayEnablers
		require.Equal(t, !bad, len(pe) == 1, "defect %v", bad)
	}
}
