package cli

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/bcert"
)

type pkiInitOptions struct {
	dir   string
	force bool
	json  bool
}

func (o *pkiInitOptions) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.dir, "dir", "", "directory to create the test PKI in (required)")
	c.Flags().BoolVar(&o.force, "force", false, "replace an existing PKI in --dir (devices and servers made with the old one stop working)")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("dir")
}

type pkiInitJSON struct {
	Dir      string   `json:"dir"`
	RootKey  string   `json:"root_key"`     // the trust anchor (root.pub), hex X‖Y
	Models   []uint32 `json:"model_levels"` // security levels with a model issuer
	Replaced bool     `json:"replaced"`     // an existing PKI was overwritten (--force)
}

func newPKICmd() *cobra.Command {
	c := &cobra.Command{Use: "pki", Short: "Manage prsim's own test PKI (never Microsoft keys)"}
	o := &pkiInitOptions{}
	init := &cobra.Command{
		Use:   "init --dir PKI [--force]",
		Short: "Create a test root, SL150/2000/3000 model certificates, a server certificate, a CRL signer and the initial revocation lists",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exists, err := pki.Exists(o.dir)
			if err != nil {
				return err
			}
			if exists && !o.force {
				return withHint(usagef("directory %s already holds a test PKI", o.dir),
					"pass --force to replace it (devices provisioned with it will no longer be trusted)")
			}
			p, err := pki.Generate(rand.Reader, time.Now())
			if err != nil {
				return err
			}
			now := time.Now()
			if err := p.Save(o.dir); err != nil {
				return err
			}
			if err := p.InitLists(o.dir, now); err != nil {
				return err
			}
			out := pkiInitJSON{Dir: o.dir, RootKey: hex.EncodeToString(p.Root[:]), Models: []uint32{}, Replaced: exists}
			for _, sl := range []uint32{150, 2000, 3000} {
				if _, ok := p.Models[sl]; ok {
					out.Models = append(out.Models, sl)
				}
			}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				fmt.Fprintf(w, "test PKI written to %s\n", o.dir)
			})
		},
	}
	o.addFlags(init)
	c.AddCommand(init, newPKIRevokeCmd(), newPKICRLCmd())
	return c
}

type pkiRevokeOptions struct {
	dir, device, digest, model string
	json                       bool
}

type pkiRevokeJSON struct {
	CRLVersion uint32 `json:"crl_version"`
	RIV        uint32 `json:"riv"`
}

func newPKIRevokeCmd() *cobra.Command {
	o := &pkiRevokeOptions{}
	c := &cobra.Command{
		Use:   "revoke --pki PKI (--device DEV | --cert-digest B64 | --model sl150|sl2000|sl3000)",
		Short: "Add a device or model certificate to the runtime CRL, bumping the CRL version and the RIV",
		Long: "Add a certificate's BASIC digest to the PKI's PlayReady runtime CRL, bump the CRL version and the RevInfo " +
			"RIV by one and re-sign the lists with the CRL signer (docs/formats/revocation.md). --device revokes a " +
			"device's leaf certificate (read from DEV's device.json), --model the PKI's model certificate for a security " +
			"level (every device under it), --cert-digest any certificate by its base64 digest. Revoking a digest already " +
			"listed changes nothing. A server picks the change up on its next list reload. " +
			"JSON: `{\"crl_version\": N, \"riv\": N}`.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := o.digestToRevoke()
			if err != nil {
				return err
			}
			v, riv, err := pki.Revoke(o.dir, d, time.Now())
			if err != nil {
				return err
			}
			return emit(cmd, o.json, pkiRevokeJSON{CRLVersion: v, RIV: riv}, nil, func(w io.Writer) {
				fmt.Fprintf(w, "revoked %s: runtime CRL version %d, RIV %d\n", base64.StdEncoding.EncodeToString(d[:]), v, riv)
			})
		},
	}
	c.Flags().StringVar(&o.dir, "pki", "", "test PKI directory (required)")
	c.Flags().StringVar(&o.device, "device", "", "device directory whose leaf certificate to revoke")
	c.Flags().StringVar(&o.digest, "cert-digest", "", "base64 BASIC digest of the certificate to revoke")
	c.Flags().StringVar(&o.model, "model", "", "revoke the PKI's model certificate of this level: sl150, sl2000 or sl3000")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("pki")
	c.MarkFlagsMutuallyExclusive("device", "cert-digest", "model")
	c.MarkFlagsOneRequired("device", "cert-digest", "model")
	return c
}

// digestToRevoke resolves the one target flag to a BASIC digest.
func (o *pkiRevokeOptions) digestToRevoke() ([32]byte, error) {
	switch {
	case o.digest != "":
		d, err := pki.ParseDigest(strings.TrimSpace(o.digest))
		if err != nil {
			return d, usagef("--cert-digest: %w", err)
		}
		return d, nil
	case o.model != "":
		sl, err := strconv.ParseUint(strings.TrimPrefix(o.model, "sl"), 10, 32)
		if err != nil || !strings.HasPrefix(o.model, "sl") {
			return [32]byte{}, usagef("--model must be sl150, sl2000 or sl3000")
		}
		p, err := pki.Load(o.dir)
		if err != nil {
			return [32]byte{}, err
		}
		m, err := p.Model(uint32(sl))
		if err != nil {
			return [32]byte{}, usageError{err}
		}
		return m.Chain.Leaf().Basic().Digest, nil
	default:
		return deviceLeafDigest(o.device)
	}
}

// maxDeviceJSON bounds a device.json read (a real one is a few kB).
const maxDeviceJSON = 1 << 20

// deviceLeafDigest reads the BASIC digest of a device's leaf certificate
// from its device.json (tee.chain), decoding nothing else: the file also
// holds the device's keys.
func deviceLeafDigest(dir string) ([32]byte, error) {
	var zero [32]byte
	// The REE's file: a regular file of bounded size (not a FIFO).
	b, err := ree.ReadLocalFile(filepath.Join(dir, "device.json"), maxDeviceJSON)
	if errors.Is(err, fs.ErrNotExist) {
		return zero, withHint(fmt.Errorf("--device: no device in %s (no device.json)", dir), "pass a directory made by 'prsim device new'")
	}
	if err != nil {
		return zero, fmt.Errorf("--device: %w", err)
	}
	defer clear(b)
	var dj struct {
		TEE struct {
			Chain []byte `json:"chain"`
		} `json:"tee"`
	}
	if err := json.Unmarshal(b, &dj); err != nil {
		return zero, fmt.Errorf("--device: %s does not parse", filepath.Join(dir, "device.json"))
	}
	c, err := bcert.ParseChain(dj.TEE.Chain)
	if err != nil {
		return zero, fmt.Errorf("--device: device certificate chain: %w", err)
	}
	return c.Leaf().Basic().Digest, nil
}

type pkiCRLOptions struct {
	dir  string
	json bool
}

type pkiCRLJSON struct {
	RIV     uint32        `json:"riv"`
	Issued  string        `json:"issued"`
	RootKey string        `json:"root_key"` // hex X‖Y of the PKI root the lists verify to
	Lists   []revListJSON `json:"lists"`    // RevInfo v2, runtime CRL, application CRL
}

func newPKICRLCmd() *cobra.Command {
	o := &pkiCRLOptions{}
	c := &cobra.Command{
		Use:   "crl --pki PKI",
		Short: "Show the PKI's current revocation lists: RevInfo v2 (RIV), runtime and application CRLs",
		Long: "Show the PKI's current revocation lists, verified against the PKI root: the RevInfo v2 (RIV, issue time, " +
			"the CRL versions it names) and the runtime and application CRLs (version, entries as base64 BASIC digests), " +
			"each with its list ID (GUID and base64 wire form), signer chain, whether its signature verifies and the root " +
			"key its chain ends at. A PKI made before revocation lists existed gets the initial ones (RIV 1, CRLs version 1).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := pki.Lists(o.dir)
			if err != nil {
				return err
			}
			roots, now := []ecc.Point{l.Root}, l.RevInfo.Issued
			out := pkiCRLJSON{RIV: l.RevInfo.RIV, Issued: l.RevInfo.Issued.UTC().Format(time.RFC3339), RootKey: hex.EncodeToString(l.Root[:]),
				Lists: []revListJSON{
					revInfoToJSON(l.RevInfo, len(l.RevInfoBlob), roots, now),
					crlToJSON(l.Runtime, len(l.RuntimeBlob), roots, now),
					crlToJSON(l.App, len(l.AppBlob), roots, now),
				}}
			return emit(cmd, o.json, out, nil, func(w io.Writer) {
				fmt.Fprintf(w, "RIV %d issued %s (root %s)\n", out.RIV, out.Issued, out.RootKey)
				for _, lj := range out.Lists[1:] {
					fmt.Fprintf(w, "%s CRL %s (%s) version %d, %d entries\n", lj.Name, lj.ID, lj.IDBase64, lj.Version, len(lj.Entries))
					for _, e := range lj.Entries {
						fmt.Fprintf(w, "  %s\n", e)
					}
				}
			})
		},
	}
	c.Flags().StringVar(&o.dir, "pki", "", "test PKI directory (required)")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("pki")
	return c
}
