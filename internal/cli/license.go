package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prsim/prsim/ree"
	"github.com/prsim/prsim/wire/entitlement"
	"github.com/prsim/prsim/wire/pro"
	"github.com/prsim/prsim/wire/xmr"
)

func newLicenseCmd() *cobra.Command {
	c := &cobra.Command{Use: "license", Short: "Acquire and list licenses"}
	c.AddCommand(newLicenseAcquireCmd(), newLicenseListCmd())
	return c
}

type acquireOptions struct {
	dev    string
	pro    string
	pssh   string
	mpd    string
	header string
	url    string
	save   string
	json   bool
	// Entitlement message (Axinom-style): the message JSON, signed here
	// with the communication key. The key is a secret: never printed.
	entitlement string
	commKeyID   string
	commKey     string
}

// maxEntitlementFile bounds the --entitlement file; real messages are a few
// kilobytes.
const maxEntitlementFile = 64 << 10

// entitlementTTL is the lifetime of the signed message (Axinom: keep it short).
const entitlementTTL = 10 * time.Minute

// acquireOpts signs the entitlement message, if any, into the option that
// sends it in the X-AxDRM-Message header.
func (o *acquireOptions) acquireOpts(now time.Time) ([]ree.AcquireOption, error) {
	if o.entitlement == "" {
		return nil, nil
	}
	msg, err := ree.ReadLocalFile(o.entitlement, maxEntitlementFile)
	if err != nil {
		return nil, usageError{err}
	}
	key, err := base64.StdEncoding.DecodeString(o.commKey)
	if err != nil {
		return nil, usageError{errors.New("--comm-key is not base64 (value withheld)")}
	}
	tok, err := entitlement.Sign(msg, o.commKeyID, key, now, entitlementTTL)
	clear(key)
	if err != nil {
		return nil, usageError{err}
	}
	return []ree.AcquireOption{ree.WithHeader(entitlement.Header, tok)}, nil
}

func (o *acquireOptions) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.dev, "dev", "", "device directory (required)")
	f.StringVar(&o.pro, "pro", "", "base64 PlayReady Object")
	f.StringVar(&o.pssh, "pssh", "", "base64 pssh box")
	f.StringVar(&o.mpd, "mpd", "", "DASH manifest file")
	f.StringVar(&o.header, "header", "", "file holding a WRMHEADER (XML, UTF-8 or UTF-16LE) or a binary PRO")
	f.StringVar(&o.url, "url", "", "license URL replacing the header's LA_URL (query string included)")
	f.StringVar(&o.save, "save-exchange", "", "write every challenge, response and fault to this directory as NNN-KIND.xml, numbered from 001 each run (prsim inspect reads them)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.StringVar(&o.entitlement, "entitlement", "", "file holding an entitlement message (JSON: the message claim), signed and sent in the X-AxDRM-Message header")
	f.StringVar(&o.commKeyID, "comm-key-id", "", "communication key ID (com_key_id) for --entitlement")
	f.StringVar(&o.commKey, "comm-key", "", "communication key, base64, for --entitlement (a secret: never printed)")
	_ = c.MarkFlagRequired("dev")
	c.MarkFlagsRequiredTogether("entitlement", "comm-key-id", "comm-key")
	c.MarkFlagsMutuallyExclusive("pro", "pssh", "mpd", "header")
	c.MarkFlagsOneRequired("pro", "pssh", "mpd", "header")
}

func (o *acquireOptions) headers() ([]*pro.Header, error) {
	switch {
	case o.pro != "":
		h, err := ree.HeaderFromPRO(o.pro)
		return []*pro.Header{h}, usageIf(err)
	case o.pssh != "":
		h, err := ree.HeaderFromPSSH(o.pssh)
		return []*pro.Header{h}, usageIf(err)
	case o.mpd != "":
		// Untrusted files: regular, non-empty and bounded (no FIFO, no /dev/zero).
		b, err := ree.ReadLocalFile(o.mpd, ree.MaxMPDSize)
		if err != nil {
			return nil, usageError{err}
		}
		hs, err := ree.HeadersFromMPD(b)
		return hs, usageIf(err)
	default:
		b, err := ree.ReadLocalFile(o.header, ree.MaxHeaderFileSize)
		if err != nil {
			return nil, usageError{err}
		}
		h, err := headerFromFile(b)
		return []*pro.Header{h}, usageIf(err)
	}
}

// headerFromFile accepts UTF-8 XML, UTF-16LE XML, a binary PRO, or base64 of a PRO.
func headerFromFile(b []byte) (*pro.Header, error) {
	if h, err := pro.ParseHeaderXML(string(b)); err == nil {
		return h, nil
	}
	if h, err := pro.ParseHeaderData(b); err == nil {
		return h, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(string(b)); err == nil {
		return pro.ParseHeaderData(raw)
	}
	return nil, errors.New("header file is not a WRMHEADER or PlayReady Object")
}

func usageIf(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

type licenseJSON struct {
	KID              string  `json:"kid"`
	Persistent       bool    `json:"persistent"`
	Bound            bool    `json:"bound"`
	MinSecurityLevel uint16  `json:"min_security_level"`
	Error            *string `json:"error"`
	Detail           *string `json:"detail"`
	// TransactionID is the response's TransactionID (absent without one):
	// the device then acknowledged the response's licenses
	// (AcknowledgeLicense), and AckError says why that failed.
	TransactionID *string `json:"transaction_id,omitempty"`
	AckError      *string `json:"ack_error,omitempty"`
	ree.LicenseTimes
}

// licenseTimesDoc documents the time fields of the license JSON.
const licenseTimesDoc = "Each license carries its time policy and whether the TEE would use it now: `begin`, `end` (RFC 3339 or null; " +
	"`end` is the earlier of the expiration and the removal date), `first_play_expiry_s` (null without one), " +
	"`real_time_expiration` (bool), `usable_now` (bool) and `unusable_reason` (\"DRM_E_… (0x…)\" or null). Begin is " +
	"inclusive and end exclusive, on the device's trusted clock."

// timesText is a license's time policy and usability in a few words
// ("" for a license without dates that is usable).
func timesText(lt ree.LicenseTimes) string {
	var parts []string
	if lt.Begin != nil {
		parts = append(parts, "begin="+lt.Begin.UTC().Format(time.RFC3339))
	}
	if lt.End != nil {
		parts = append(parts, "end="+lt.End.UTC().Format(time.RFC3339))
	}
	if lt.FirstPlayExpiryS != nil {
		parts = append(parts, fmt.Sprintf("first_play_expiry=%ds", *lt.FirstPlayExpiryS))
	}
	if lt.RealTimeExpiration {
		parts = append(parts, "real_time_expiration")
	}
	if lt.UsableNow {
		if len(parts) > 0 {
			parts = append(parts, "usable now")
		}
	} else if lt.UnusableReason != nil {
		code := *lt.UnusableReason
		parts = append(parts, "unusable now: "+code)
		if why := sanitize(withoutCode(lt.Why, code)); why != "" {
			parts[len(parts)-1] += " (" + why + ")"
		}
	}
	return strings.Join(parts, " ")
}

type acquireJSON struct {
	Licenses      []licenseJSON `json:"licenses"`
	ExchangeFiles []string      `json:"exchange_files"` // null without --save-exchange
	Error         *string       `json:"error"`
	Detail        *string       `json:"detail"`
}

func newLicenseAcquireCmd() *cobra.Command {
	o := &acquireOptions{}
	c := &cobra.Command{
		Use:   "acquire --dev DEV (--pro B64 | --pssh B64 | --mpd FILE | --header FILE) [--url URL] [--save-exchange DIR] [--entitlement FILE --comm-key-id ID --comm-key B64] --json",
		Short: "Send a license challenge and bind the licenses in the response",
		Long:  licenseTimesDoc,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLicenseURL(o.url); err != nil {
				return err
			}
			opts, err := o.acquireOpts(time.Now())
			if err != nil {
				return err
			}
			hs, err := o.headers()
			if err != nil {
				return err
			}
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			x, err := saveExchanges(d, o.save)
			if err != nil {
				return err
			}
			out := acquireJSON{Licenses: []licenseJSON{}}
			var firstErr error
			for _, h := range hs {
				res, err := d.Client.Acquire(cmd.Context(), h, o.url, opts...)
				if err != nil {
					firstErr = err
					break
				}
				for _, r := range res {
					lj := licenseJSON{KID: r.KID.String(), Persistent: r.Persistent,
						Bound: r.Bound, MinSecurityLevel: r.MinSecurityLevel, Error: errString(r.Err), Detail: errDetail(r.Err),
						LicenseTimes: d.Client.LicenseTimes(r.XMR)}
					if r.TransactionID != "" {
						lj.TransactionID = ptr(r.TransactionID)
						lj.AckError = errString(r.AckErr)
					}
					out.Licenses = append(out.Licenses, lj)
					if r.Err != nil && firstErr == nil {
						firstErr = r.Err
					}
					// The server did not learn the licenses were stored:
					// reported as a failure although they bound.
					if r.AckErr != nil && firstErr == nil {
						firstErr = r.AckErr
					}
				}
			}
			out.ExchangeFiles, firstErr = exchangeFiles(x, firstErr)
			out.Error, out.Detail = errString(firstErr), errDetail(firstErr)
			return emit(cmd, o.json, out, firstErr, func(w io.Writer) {
				for _, l := range out.Licenses {
					status := "bound"
					if !l.Bound {
						status = "not bound: " + *l.Error
						if l.Detail != nil {
							status += ": " + *l.Detail
						}
					}
					fmt.Fprintf(w, "%s persistent=%v min_sl=%d %s\n", l.KID, l.Persistent, l.MinSecurityLevel, status)
					if t := timesText(l.LicenseTimes); t != "" {
						fmt.Fprintf(w, "  %s\n", t)
					}
					if l.TransactionID != nil {
						if l.AckError != nil {
							fmt.Fprintf(w, "  transaction %s not acknowledged: %s\n", *l.TransactionID, *l.AckError)
						} else {
							fmt.Fprintf(w, "  transaction %s acknowledged\n", *l.TransactionID)
						}
					}
				}
				for _, f := range out.ExchangeFiles {
					fmt.Fprintf(w, "saved %s\n", f)
				}
			})
		},
	}
	o.addFlags(c)
	return c
}

type listOptions struct {
	dev  string
	json bool
}

type storedJSON struct {
	KID              string `json:"kid"`
	LID              string `json:"lid"`
	Stored           string `json:"stored"`
	MinSecurityLevel uint16 `json:"min_security_level"`
	Size             int    `json:"size"`
	ree.LicenseTimes
}

func newLicenseListCmd() *cobra.Command {
	o := &listOptions{}
	c := &cobra.Command{
		Use:   "list --dev DEV --json",
		Short: "List the persistent licenses in the device store",
		Long:  licenseTimesDoc + " Listing records no first play.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ree.OpenDevice(o.dev)
			if err != nil {
				return err
			}
			defer d.Close()
			ls, err := d.Client.StoredLicenses()
			if err != nil {
				return err
			}
			out := struct {
				Licenses []storedJSON `json:"licenses"`
			}{Licenses: []storedJSON{}}
			for _, l := range ls {
				s := storedJSON{KID: l.KID.String(), LID: base64.StdEncoding.EncodeToString(l.LID[:]),
					Stored: l.Stored.Format("2006-01-02T15:04:05Z"), Size: len(l.XMR)}
				if x, err := xmr.Parse(l.XMR); err == nil {
					s.MinSecurityLevel = x.MinSecurityLevel()
				}
				s.LicenseTimes = d.Client.LicenseTimes(l.XMR)
				out.Licenses = append(out.Licenses, s)
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			for _, l := range out.Licenses {
				fmt.Fprintf(cmd.OutOrStdout(), "%s lid=%s stored=%s min_sl=%d\n", l.KID, l.LID, l.Stored, l.MinSecurityLevel)
				if t := timesText(l.LicenseTimes); t != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", t)
				}
			}
			return nil
		},
	}
	devFlags(c, &o.dev, &o.json)
	return c
}
