package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/clock"
	"github.com/prsim/prsim/hal"
	"github.com/prsim/prsim/internal/ecc"
	"github.com/prsim/prsim/internal/pki"
	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/tee"
	"github.com/prsim/prsim/wire/bcert"
)

func newDeviceCmd() *cobra.Command {
	c := &cobra.Command{Use: "device", Short: "Provision and inspect simulated devices"}
	c.AddCommand(newDeviceNewCmd(), newDeviceInfoCmd(), newDeviceSetTimeCmd(), newDeviceAdvanceTPMClockCmd())
	return c
}

type deviceNewOptions struct {
	pki     string
	dir     string
	sl      uint32
	version string
	tpm     string
	outputs string
	clock   string
	json    bool
}

func (o *deviceNewOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.pki, "pki", "", "test PKI directory (required)")
	f.StringVar(&o.dir, "dir", "", "device directory to create (required)")
	f.Uint32Var(&o.sl, "sl", 0, "security level: 150, 2000 or 3000 (required)")
	f.StringVar(&o.version, "version", "4.5", "PlayReady version: 2.0, 3.0, 4.3 or 4.5")
	f.StringVar(&o.outputs, "outputs", hal.DefaultOutputs, `the platform's outputs, the default for every play: KIND[:opt,…] joined by ';', e.g. "internal;hdmi:hdcp=2.2,type1;component:cgmsa,agc;spdif:scms;unknown;decoder:max=1920x1080"`)
	f.StringVar(&o.tpm, "tpm", "sim", "key backend: sim, sim:SEED, swtpm:DIR (prsim runs swtpm on DIR), swtpm:HOST:PORT, /dev/tpmrm0 or soft")
	f.StringVar(&o.clock, "clock", string(ree.DefaultClock), "trusted clock, claimed in the leaf certificate: secure (set from server-signed time), anti-rollback (the wall clock, never earlier than the last-known-good time) or none (no time-based license binds)")
	f.BoolVar(&o.json, "json", false, "print device info as JSON")
	_ = c.MarkFlagRequired("pki")
	_ = c.MarkFlagRequired("dir")
	_ = c.MarkFlagRequired("sl")
}

func newDeviceNewCmd() *cobra.Command {
	o := &deviceNewOptions{}
	c := &cobra.Command{
		Use:   "new --pki PKI --dir DEV --sl 150|2000|3000 [--version 2.0|3.0|4.3|4.5] [--outputs SPEC] [--tpm sim|swtpm:DIR|swtpm:HOST:PORT|/dev/tpmrm0|soft] [--clock secure|anti-rollback|none]",
		Short: "Provision a device: keys generated in the TEE backend, leaf certificate signed by the model key",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.sl != 150 && o.sl != 2000 && o.sl != 3000 {
				return usagef("--sl must be 150, 2000 or 3000")
			}
			if err := checkBackend(o.tpm); err != nil {
				return err
			}
			if !slices.Contains(ree.Versions, o.version) {
				return usagef("--version must be one of %s", strings.Join(ree.Versions, ", "))
			}
			kind, err := clock.ParseKind(o.clock)
			if err != nil {
				return usagef("--clock must be secure, anti-rollback or none")
			}
			platform, err := parseOutputs(o.outputs)
			if err != nil {
				return err
			}
			p, err := pki.Load(o.pki)
			if err != nil {
				return err
			}
			model, err := p.Model(o.sl)
			if err != nil {
				return err
			}
			d, err := ree.NewDevice(o.dir, ree.NewDeviceOptions{
				Version: o.version, SecurityLevel: o.sl, Backend: o.tpm,
				ModelChain: model.Chain, ModelSigner: pki.KeySigner{Key: model.Key, Rand: rand.Reader},
				Roots: []ecc.Point{p.Root}, Outputs: platform.String(), Clock: kind,
			})
			if err != nil {
				return err
			}
			defer d.Close()
			if o.json {
				return writeJSON(cmd.OutOrStdout(), deviceInfo(d))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "provisioned SL%d PlayReady %s device in %s (backend %s, clock %s, outputs %s)\n", d.TEE.SecurityLevel(), d.Version, o.dir, d.Backend(), d.Clock, d.Outputs)
			fmt.Fprintln(cmd.OutOrStdout(), rollbackText(d.RollbackProtected()))
			return nil
		},
	}
	o.addFlags(c)
	return c
}

type deviceInfoJSON struct {
	Dir            string   `json:"dir"`
	Version        string   `json:"version"`
	SecurityLevel  uint32   `json:"security_level"`
	Backend        string   `json:"backend"`
	Outputs        string   `json:"outputs"` // the platform's default output spec
	TPM            bool     `json:"tpm"`
	CertID         string   `json:"cert_id"`
	ClientID       string   `json:"client_id"`
	Digest         string   `json:"digest"`
	Manufacturer   string   `json:"manufacturer"`
	Model          string   `json:"model"`
	Features       []uint32 `json:"features"`
	ChainLength    int      `json:"chain_length"`
	SigningKey     string   `json:"signing_key"`
	EncryptionKey  string   `json:"encryption_key"`
	StoredLicenses int      `json:"stored_licenses"`
	// Clock is the trusted clock kind the leaf certificate claims.
	Clock clock.Kind `json:"clock"`
	// RollbackProtection: a store copied back is detected (the TEE's
	// generation counter is in TPM NV outside the device directory).
	RollbackProtection bool `json:"rollback_protection"`
}

// deviceInfo reports what the device's certificate backs: the level and
// features are the leaf's, and ree.OpenDevice has refused a device.json
// whose level, version or chain contradicts it (docs/protocol.md §5).
func deviceInfo(d *ree.Device) deviceInfoJSON {
	info := deviceInfoJSON{Dir: d.Dir, Version: d.Version, SecurityLevel: d.TEE.SecurityLevel(), Backend: d.Backend(), Outputs: d.Outputs,
		TPM: d.Backend() != "soft", Clock: d.Clock, RollbackProtection: d.RollbackProtected()}
	if chain, err := bcert.ParseChain(d.TEE.Chain()); err == nil {
		leaf := chain.Leaf()
		b := leaf.Basic()
		info.CertID = hex.EncodeToString(b.CertID[:])
		info.ClientID = hex.EncodeToString(b.ClientID[:])
		info.Digest = hex.EncodeToString(b.Digest[:])
		info.Features = leaf.Features()
		if m, ok := leaf.Manufacturer(); ok {
			info.Manufacturer, info.Model = m.Name, m.Model
		}
		info.ChainLength = len(chain.Certs)
	}
	sp, ep := d.TEE.Public(), d.TEE.EncryptionKey()
	info.SigningKey = hex.EncodeToString(sp[:])
	info.EncryptionKey = hex.EncodeToString(ep[:])
	if ls, err := d.Client.StoredLicenses(); err == nil {
		info.StoredLicenses = len(ls)
	}
	return info
}

type deviceInfoOptions struct {
	dir  string
	json bool
}

func newDeviceInfoCmd() *cobra.Command {
	o := &deviceInfoOptions{}
	c := &cobra.Command{
		Use:   "info --dir DEV --json",
		Short: "Show a device's persona, certificate and public keys",
		Long: "The JSON carries `clock` (the trusted clock kind the leaf certificate claims: secure, anti-rollback or " +
			"none) and `rollback_protection`: true when an older copy of store.db put back is refused, because the TEE's " +
			"generation counter lives in TPM NV outside the device directory (swtpm:DIR with DIR elsewhere, swtpm:HOST:PORT, " +
			"/dev/tpmrm0); false for soft, sim and an swtpm state directory inside the device directory, whose TPM state " +
			"is copied back with the store.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ree.OpenDevice(o.dir)
			if err != nil {
				return err
			}
			defer d.Close()
			info := deviceInfo(d)
			if o.json {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "SL%d PlayReady %s device, backend %s, outputs %s, %d stored license(s), %s %s\n",
				info.SecurityLevel, info.Version, info.Backend, info.Outputs, info.StoredLicenses, info.Manufacturer, info.Model)
			fmt.Fprintf(cmd.OutOrStdout(), "trusted clock: %s\n%s\n", info.Clock, rollbackText(info.RollbackProtection))
			return nil
		},
	}
	c.Flags().StringVar(&o.dir, "dir", "", "device directory (required)")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	_ = c.MarkFlagRequired("dir")
	return c
}

// rollbackText says plainly whether a rolled-back store is detected: with
// soft, sim, or an swtpm whose state directory sits inside the device
// directory, the generation counter is copied back with the store.
func rollbackText(protected bool) string {
	if protected {
		return "rollback protection: yes (an older copy of store.db is refused: the TEE's generation counter is in TPM NV outside the device directory)"
	}
	return "rollback protection: NONE: an older copy of the device directory is not detected (the backend keeps its TPM state, generation counter included, inside the device directory, or has no NV counter)"
}

// parseOutputs reads an --outputs spec as a usage error when it is bad;
// hal's error names the bad token (truncated), never the whole input.
func parseOutputs(spec string) (hal.Platform, error) {
	p, err := hal.ParseOutputs(spec)
	if err != nil {
		return p, usagef("--outputs: %v", err)
	}
	return p, nil
}

// checkBackend explains a bad --tpm before any work. The value is not
// quoted back beyond its kind.
func checkBackend(uri string) error {
	if seed, ok := strings.CutPrefix(uri, "sim:"); ok {
		if _, err := strconv.ParseInt(seed, 10, 64); err != nil {
			return usagef("--tpm sim:SEED needs a decimal integer seed that fits in 64 bits, e.g. sim:42 (plain sim picks a random one)")
		}
		return nil
	}
	if _, err := tee.ResolveBackend(uri, rand.Reader); err != nil {
		return usagef("--tpm must name a key backend: sim, sim:SEED, swtpm:DIR, swtpm:HOST:PORT, a TPM device path such as /dev/tpmrm0, or soft")
	}
	return nil
}
